using Analytics.Counting;
using Analytics.Sites;
using Analytics.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Reports;

internal sealed class ReportsOptions
{
    public const string Section = "Reports";

    /// <summary>Where each site's finished days are written as {site}/{yyyy-MM-dd}.csv (by page); unset: no files.</summary>
    public string? DailyDirectory { get; set; }
}

/// <summary>
/// After a site's local midnight and the rollup that follows, writes the day that just ended as
/// a CSV file, once, atomically (a temporary file renamed into place); days missed while the
/// service was stopped are written when it runs again (<see cref="CatchUpDays"/> back at most).
/// </summary>
internal sealed partial class DailyReportFiles(SiteStore sites, ReportReader reader, IConnectionMultiplexer redis, TimeProvider time, IOptions<ReportsOptions> options, AnalyticsMetrics metrics, ILogger<DailyReportFiles> logger)
{
    private readonly SemaphoreSlim _writing = new(1, 1);

    /// <summary>Writes the files that are due; returns the ones written by this call.</summary>
    public async Task<IReadOnlyList<string>> WriteDueAsync(CancellationToken cancellationToken = default)
    {
        var directory = options.Value.DailyDirectory;
        if (string.IsNullOrWhiteSpace(directory))
        {
            return [];
        }

        await _writing.WaitAsync(cancellationToken);
        try
        {
            return await WriteDueAsync(directory, cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }

    private async Task<IReadOnlyList<string>> WriteDueAsync(string directory, CancellationToken cancellationToken)
    {
        var written = new List<string>();
        var db = redis.GetDatabase();
        foreach (var site in await sites.ListAsync())
        {
            var entry = await sites.FindAsync(site.Id);
            if (entry is null)
            {
                continue;
            }

            // The day that just ended, and the days before it that a stopped service missed
            // (a week at most, none before the site was made).
            var today = entry.LocalDay(time.GetUtcNow());
            var first = entry.LocalDay(site.CreatedAt);
            for (var day = today.AddDays(-1); day >= first && day >= today.AddDays(-CatchUpDays); day = day.AddDays(-1))
            {
                if (await WriteDayAsync(directory, db, entry, day, cancellationToken) is { } path)
                {
                    written.Add(path);
                }
            }
        }

        return written;
    }

    /// <summary>How many finished days back a file is still written when it is missing.</summary>
    public const int CatchUpDays = 7;

    /// <summary>Writes one finished day's file unless it exists or the day still has changes to roll up; its path when written.</summary>
    private async Task<string?> WriteDayAsync(string directory, IDatabase db, SiteEntry entry, DateOnly day, CancellationToken cancellationToken)
    {
        var site = entry.Site;
        var path = Path.Combine(directory, site.Id, $"{RedisKeys.Date(day)}.csv");
        var member = RedisKeys.Date(day);
        // Wait until the day's last changes are rolled up, so the file is final.
        if (File.Exists(path) || await db.SetContainsAsync(RedisKeys.Dirty(site.Id), member) || await db.SetContainsAsync(RedisKeys.DirtyInFlight(site.Id), member))
        {
            return null;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        await using (var file = File.Create(temporary))
        {
            var query = new ReportQuery(day, day, ReportBy.Page, ReportFormat.Csv);
            metrics.ExportRows.Add(await ReportWriter.WriteAsync(file, reader.ReadAsync(entry, query, cancellationToken), query.By, query.Format, cancellationToken: cancellationToken));
        }

        try
        {
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another node wrote it first (a shared folder): theirs stands.
            File.Delete(temporary);
            return null;
        }

        LogWritten(path);
        return path;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the daily report {Path}.")]
    private partial void LogWritten(string path);
}
