using Analytics.Counting;
using Analytics.Sites;
using Analytics.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Reports;

internal sealed class ReportsOptions
{
    public const string Section = "Reports";

    /// <summary>Where yesterday's report of each site is written as {site}/{yyyy-MM-dd}.csv (by page); unset: no files.</summary>
    public string? DailyDirectory { get; set; }
}

/// <summary>
/// After a site's local midnight and the rollup that follows, writes the day that just ended as
/// a CSV file, once, atomically (a temporary file renamed into place).
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

            var yesterday = entry.LocalDay(time.GetUtcNow()).AddDays(-1);
            var path = Path.Combine(directory, site.Id, $"{RedisKeys.Date(yesterday)}.csv");
            var member = RedisKeys.Date(yesterday);
            // Wait until the day's last changes are rolled up, so the file is final.
            if (File.Exists(path) || await db.SetContainsAsync(RedisKeys.Dirty(site.Id), member) || await db.SetContainsAsync(RedisKeys.DirtyInFlight(site.Id), member))
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temporary = $"{path}.{Guid.NewGuid():N}.partial";
            await using (var file = File.Create(temporary))
            {
                var query = new ReportQuery(yesterday, yesterday, ReportBy.Page, ReportFormat.Csv);
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
                continue;
            }

            LogWritten(path);
            written.Add(path);
        }

        return written;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the daily report {Path}.")]
    private partial void LogWritten(string path);
}
