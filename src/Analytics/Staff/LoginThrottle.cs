using System.Threading.RateLimiting;

namespace Analytics.Staff;

/// <summary>
/// Sign-in attempts per client address: 10 a minute. Each attempt costs a PBKDF2 hash, so this
/// keeps both password guessing and CPU exhaustion at bay.
/// </summary>
internal sealed class LoginThrottle : IDisposable
{
    public const int AttemptsPerMinute = 10;

    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(client =>
        RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = AttemptsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    public bool TryAttempt(HttpContext context)
    {
        using var lease = _limiter.AttemptAcquire(context.Connection.RemoteIpAddress?.ToString() ?? "");
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
