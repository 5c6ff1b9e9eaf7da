using Analytics.Telemetry;

namespace Analytics.Ingest;

/// <summary>
/// <c>GET /p.gif?s={site}&amp;u={url}&amp;r={referrer}</c>, the hottest path of the service, answered
/// ahead of routing and the rest of the pipeline: rate limit, bot check, count, GIF. It still
/// answers only after Redis has the hit.
/// </summary>
internal sealed class PixelMiddleware(RequestDelegate next, PageViews views, ClientRateLimiter limiter, AnalyticsMetrics metrics)
{
    public const string Path = "/p.gif";

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        return request.Path.Equals(Path, StringComparison.OrdinalIgnoreCase) && HttpMethods.IsGet(request.Method)
            ? PixelAsync(context)
            : next(context);
    }

    private async Task PixelAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (request.Headers.Origin.Count > 0)
        {
            response.Headers.AccessControlAllowOrigin = "*";
            response.Headers.AccessControlExposeHeaders = IngestEndpoints.IgnoredHeader;
        }

        if (!limiter.TryAcquire(context, out var refused))
        {
            await refused!.ExecuteAsync(context);
            return;
        }

        if (BotFilter.IsBot(request.Headers.UserAgent.ToString()))
        {
            response.Headers[IngestEndpoints.IgnoredHeader] = "bot";
            metrics.Hit(HitOutcome.Bot, "pixel");
            await IngestEndpoints.GifResult.Instance.ExecuteAsync(context);
            return;
        }

        var query = request.Query;
        var url = query["u"].ToString();
        if (url.Length == 0)
        {
            url = request.Headers.Referer.ToString();
        }

        var (error, outcome) = await IngestEndpoints.CountAsync(context, views, query["s"].ToString(), "s", url, "u", query["r"].ToString());
        metrics.Hit(outcome, "pixel");
        await (error ?? IngestEndpoints.GifResult.Instance).ExecuteAsync(context);
    }
}
