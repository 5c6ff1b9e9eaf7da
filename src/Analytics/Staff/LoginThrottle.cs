using System.Threading.RateLimiting;

namespace Analytics.Staff;

/// <summary>
/// Failed sign-ins per client address: after 10 in a minute, the address is refused until the
/// minute is over. Each attempt costs a PBKDF2 hash, so this keeps both password guessing and CPU
/// exhaustion at bay; successful sign-ins cost nothing here, so scripts and tests that sign in
/// often are not locked out.
/// </summary>
internal sealed class LoginThrottle : IDisposable
{
    public const int FailuresPerMinute = 10;

    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(client =>
        RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = FailuresPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>False once the address has used up its failures of this minute.</summary>
    public bool MayAttempt(HttpContext context) =>
        _limiter.GetStatistics(Client(context)) is not { CurrentAvailablePermits: <= 0 };

    /// <summary>Counts a failed sign-in against the address.</summary>
    public void Failed(HttpContext context)
    {
        using var lease = _limiter.AttemptAcquire(Client(context));
    }

    public void Dispose() => _limiter.Dispose();

    private static string Client(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "";
}
