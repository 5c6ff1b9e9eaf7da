using Analytics.Telemetry;

namespace Analytics.Ingest;

/// <summary>Counts each single hit by outcome, read off the answer the endpoint gives.</summary>
internal sealed class HitTelemetryFilter(string endpoint) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var http = context.HttpContext;
        var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : http.Response.StatusCode;
        var outcome = status switch
        {
            < 300 => http.Response.Headers[IngestEndpoints.IgnoredHeader].ToString() switch
            {
                "bot" => HitOutcome.Bot,
                "" => HitOutcome.Counted,
                _ => HitOutcome.NotAPageView,
            },
            StatusCodes.Status404NotFound => HitOutcome.UnknownSite,
            StatusCodes.Status503ServiceUnavailable => HitOutcome.Unavailable,
            _ => HitOutcome.Invalid,
        };
        http.RequestServices.GetRequiredService<AnalyticsMetrics>().Hit(outcome, endpoint);
        return result;
    }
}
