using System.Globalization;
using System.Threading.RateLimiting;
using Analytics.Infrastructure;
using Analytics.Telemetry;
using Microsoft.Extensions.Options;

namespace Analytics.Ingest;

/// <summary>
/// <c>Analytics:Ingest:ClientRateLimit</c> hits a second per client address (a token bucket each),
/// shared by every ingest endpoint; 0 turns it off.
/// </summary>
internal sealed class ClientRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _limiter;
    private readonly int _limit;

    public ClientRateLimiter(IOptions<IngestOptions> options)
    {
        _limit = options.Value.ClientRateLimit;
        if (_limit > 0)
        {
            _limiter = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = _limit,
                TokensPerPeriod = _limit,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
        }
    }

    /// <summary>Takes one hit's worth for the client; false (and a 429 problem to send) when over the limit.</summary>
    public bool TryAcquire(HttpContext context, string endpoint, out IResult? refused)
    {
        refused = null;
        if (_limiter is null)
        {
            return true;
        }

        using var lease = _limiter.AttemptAcquire(context.Connection.RemoteIpAddress?.ToString() ?? "");
        if (lease.IsAcquired)
        {
            return true;
        }

        context.Response.Headers.RetryAfter = "1";
        context.RequestServices.GetRequiredService<AnalyticsMetrics>().Hit(HitOutcome.RateLimited, endpoint);
        refused = TypedResults.Problem(
            string.Create(CultureInfo.InvariantCulture, $"This client sent more than {_limit} hits a second (Analytics:Ingest:ClientRateLimit)."),
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many requests");
        return false;
    }

    public void Dispose() => _limiter?.Dispose();
}

/// <summary>The per-client limit on the JSON ingest endpoints (the pixel checks it itself).</summary>
internal sealed class ClientRateLimitFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.RequestServices.GetRequiredService<ClientRateLimiter>().TryAcquire(context.HttpContext, Endpoint(context.HttpContext.Request.Path), out var refused)
            ? await next(context)
            : refused;

    /// <summary>The endpoint kind hits are counted by, for the JSON ingest paths.</summary>
    private static string Endpoint(PathString path) =>
        path.Equals("/api/events", StringComparison.OrdinalIgnoreCase) ? "batch"
        : path.Equals("/api/send", StringComparison.OrdinalIgnoreCase) ? "send"
        : "event";
}
