using System.Security.Claims;
using Analytics.Infrastructure;
using Analytics.Sites;
using Analytics.Staff;
using Analytics.Telemetry;
using StackExchange.Redis;

namespace Analytics.Reports;

internal static partial class ReportEndpoints
{
    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/sites/{site}/reports/daily", DailyAsync).RequireAuthorization(StaffAccess.StaffPolicy);
        return app;
    }

    /// <summary>Streams the report; a failure before the first byte is a 503 problem, after it the response is cut off.</summary>
    private static async Task<IResult> DailyAsync(string site, string? from, string? to, string? by, string? format,
        HttpContext context, ClaimsPrincipal user, SiteStore sites, ReportReader reader, TimeProvider time, AnalyticsMetrics metrics, ILogger<ReportReader> logger)
    {
        if (!user.CanRead(site))
        {
            return Problems.Forbidden($"You have no access to site '{site}'.");
        }

        var entry = await sites.FindAsync(site);
        if (entry is null)
        {
            return Problems.UnknownSite(site);
        }

        var (query, field, error) = ReportQuery.Parse(from, to, by, format, entry.LocalDay(time.GetUtcNow()));
        if (query is null)
        {
            return Problems.Invalid(field!, error!);
        }

        var response = context.Response;
        response.ContentType = ReportWriter.ContentType(query.Format);
        response.Headers.ContentDisposition = $"attachment; filename=\"{query.FileName(site)}\"";
        response.Headers.CacheControl = "no-store";
        using var activity = AnalyticsTelemetry.Source.StartActivity("report export");
        activity?.SetTag("analytics.report.by", query.By.ToString());
        try
        {
            var rows = await ReportWriter.WriteAsync(response.Body, reader.ReadAsync(entry, query, context.RequestAborted), query.By, query.Format, cancellationToken: context.RequestAborted);
            metrics.ExportRows.Add(rows);
            activity?.SetTag("analytics.report.rows", rows);
            return Results.Empty;
        }
        catch (Exception e) when (e is not OperationCanceledException && !response.HasStarted)
        {
            LogFailed(logger, e, site);
            response.Headers.ContentDisposition = default;
            return e is RedisException or RedisTimeoutException ? Problems.Unavailable("Redis is unreachable; the report cannot be read right now.")
                : Problems.Unavailable("ClickHouse is unreachable; the report cannot be read right now.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, e, site);
            context.Abort();
            return Results.Empty;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Report for {Site} failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception, string site);
}
