using System.Globalization;
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
/// a CSV file, atomically (a temporary file renamed into place); days missed while the service
/// was stopped are written when it runs again (<see cref="CatchUpDays"/> back at most). A day
/// that changes after its file was written (a back-filled batch) is rolled up again, and the
/// rollup marks it in <see cref="RedisKeys.Refile"/>: its file is then written again, so a file
/// always shows what the reports show.
/// </summary>
internal sealed partial class DailyReportFiles(SiteStore sites, ReportReader reader, IConnectionMultiplexer redis, TimeProvider time, IOptions<ReportsOptions> options, AnalyticsMetrics metrics, ILogger<DailyReportFiles> logger)
{
    // Clears a day's mark only if no rollup marked it again while its file was being written.
    private const string ClearMarkScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
          return redis.call('HDEL', KEYS[1], ARGV[1])
        end
        return 0
        """;

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

            // The day that just ended and the days before it that a stopped service missed (a
            // week at most, none before the site was made), and any finished day changed since
            // its file was written.
            var today = entry.LocalDay(time.GetUtcNow());
            var first = entry.LocalDay(site.CreatedAt);
            var marks = new Dictionary<DateOnly, RedisValue>();
            foreach (var mark in await db.HashGetAllAsync(RedisKeys.Refile(site.Id)))
            {
                if (DateOnly.TryParseExact(mark.Name.ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var marked))
                {
                    marks[marked] = mark.Value;
                }
            }

            var days = marks.Keys.Where(day => day < today).ToHashSet();
            for (var day = today.AddDays(-1); day >= first && day >= today.AddDays(-CatchUpDays); day = day.AddDays(-1))
            {
                days.Add(day);
            }

            foreach (var day in days.OrderDescending())
            {
                var path = Path.Combine(directory, site.Id, $"{RedisKeys.Date(day)}.csv");
                var marked = marks.TryGetValue(day, out var mark);
                var exists = File.Exists(path);
                if (exists && !marked)
                {
                    continue;
                }

                // A changed day long past whose file was never written: nothing to bring up to date.
                if (!exists && (day < first || day < today.AddDays(-CatchUpDays)))
                {
                    await db.ScriptEvaluateAsync(ClearMarkScript, [RedisKeys.Refile(site.Id)], [RedisKeys.Date(day), mark]);
                    continue;
                }

                if (await WriteDayAsync(path, db, entry, day, replace: exists, cancellationToken))
                {
                    written.Add(path);
                    if (marked)
                    {
                        await db.ScriptEvaluateAsync(ClearMarkScript, [RedisKeys.Refile(site.Id)], [RedisKeys.Date(day), mark]);
                    }
                }
            }
        }

        return written;
    }

    /// <summary>How many finished days back a file is still written when it is missing.</summary>
    public const int CatchUpDays = 7;

    /// <summary>Writes one finished day's file unless the day still has changes to roll up; true when written.</summary>
    private async Task<bool> WriteDayAsync(string path, IDatabase db, SiteEntry entry, DateOnly day, bool replace, CancellationToken cancellationToken)
    {
        var site = entry.Site;
        var member = RedisKeys.Date(day);
        // Wait until the day's last changes are rolled up, so the file is final.
        if (await db.SetContainsAsync(RedisKeys.Dirty(site.Id), member) || await db.SetContainsAsync(RedisKeys.DirtyInFlight(site.Id), member))
        {
            return false;
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
            File.Move(temporary, path, overwrite: replace);
        }
        catch (IOException) when (!replace && File.Exists(path))
        {
            // Another node wrote it first (a shared folder): theirs stands.
            File.Delete(temporary);
            return false;
        }

        if (replace)
        {
            LogRewritten(path);
        }
        else
        {
            LogWritten(path);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the daily report {Path} again: the day changed after it was written.")]
    private partial void LogRewritten(string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote the daily report {Path}.")]
    private partial void LogWritten(string path);
}
