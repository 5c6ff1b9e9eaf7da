using System.Runtime.CompilerServices;
using Analytics.ClickHouse;
using Analytics.Counting;
using Analytics.Rollup;
using Analytics.Sites;
using ClickHouse.Driver;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Reports;

/// <summary>One row of a daily report: the day, the page or referrer (null by day), views and visitors (by day only).</summary>
internal readonly record struct ReportRow(DateOnly Date, string? Key, long Views, long Visitors);

/// <summary>
/// Reads a daily report so that it is always current: closed days from ClickHouse, and from
/// Redis the days ClickHouse may not have yet — today, and any day changed since its last rollup
/// (a late hit, a back-fill). Rows stream in date order; nothing is held but one Redis day.
/// </summary>
internal sealed class ReportReader(IConnectionMultiplexer redis, ClickHouseClient clickHouse, TimeProvider time, IOptions<RollupOptions> rollup)
{
    public async IAsyncEnumerable<ReportRow> ReadAsync(SiteEntry site, ReportQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var today = site.LocalDay(time.GetUtcNow());
        var to = query.To > today ? today : query.To;
        if (query.From > to)
        {
            yield break;
        }

        var live = new Queue<DateOnly>(await LiveDaysAsync(site.Id, query.From, to, today));
        var liveSet = live.ToHashSet();
        var nextDay = query.From;

        await foreach (var row in ClosedDaysAsync(site.Id, query, to, cancellationToken))
        {
            if (liveSet.Contains(row.Date))
            {
                continue;
            }

            while (live.TryPeek(out var day) && day < row.Date)
            {
                await foreach (var liveRow in RedisDayAsync(site.Id, live.Dequeue(), query.By))
                {
                    if (query.By == ReportBy.Day)
                    {
                        foreach (var empty in Gap(ref nextDay, liveRow.Date))
                        {
                            yield return empty;
                        }
                    }

                    yield return liveRow;
                }
            }

            if (query.By == ReportBy.Day)
            {
                foreach (var empty in Gap(ref nextDay, row.Date))
                {
                    yield return empty;
                }
            }

            yield return row;
        }

        while (live.TryDequeue(out var day))
        {
            await foreach (var liveRow in RedisDayAsync(site.Id, day, query.By))
            {
                if (query.By == ReportBy.Day)
                {
                    foreach (var empty in Gap(ref nextDay, liveRow.Date))
                    {
                        yield return empty;
                    }
                }

                yield return liveRow;
            }
        }

        if (query.By == ReportBy.Day)
        {
            foreach (var empty in Gap(ref nextDay, to.AddDays(1)))
            {
                yield return empty;
            }
        }
    }

    /// <summary>By day, every day is listed: the days before <paramref name="upTo"/> not yet listed, with zeros; then moves past it.</summary>
    private static List<ReportRow> Gap(ref DateOnly next, DateOnly upTo)
    {
        var empty = new List<ReportRow>();
        for (; next < upTo; next = next.AddDays(1))
        {
            empty.Add(new ReportRow(next, null, 0, 0));
        }

        if (next == upTo)
        {
            next = upTo.AddDays(1);
        }

        return empty;
    }

    /// <summary>Today and the days whose counters changed since their last rollup, in order.</summary>
    private async Task<List<DateOnly>> LiveDaysAsync(string site, DateOnly from, DateOnly to, DateOnly today)
    {
        var oldestInRedis = today.AddDays(-(int)Math.Ceiling(rollup.Value.Retention.TotalDays) - 1);
        var first = from > oldestInRedis ? from : oldestInRedis;
        var candidates = new List<DateOnly>();
        for (var day = first; day <= to; day = day.AddDays(1))
        {
            candidates.Add(day);
        }

        if (candidates.Count == 0)
        {
            return [];
        }

        var db = redis.GetDatabase();
        var members = candidates.Select(d => (RedisValue)RedisKeys.Date(d)).ToArray();
        var dirty = await db.SetContainsAsync(RedisKeys.Dirty(site), members);
        var inFlight = await db.SetContainsAsync(RedisKeys.DirtyInFlight(site), members);
        return [.. candidates.Where((d, i) => d == today || dirty[i] || inFlight[i])];
    }

    private async IAsyncEnumerable<ReportRow> RedisDayAsync(string site, DateOnly day, ReportBy by)
    {
        var counters = (await DayCounters.ReadAsync(redis.GetDatabase(), [(site, day)], withBreakdown: by != ReportBy.Day))[0];
        if (by == ReportBy.Day)
        {
            if (counters.Views > 0)
            {
                yield return new ReportRow(day, null, counters.Views, counters.Visitors);
            }

            yield break;
        }

        var entries = by == ReportBy.Page ? counters.Pages : counters.Referrers;
        foreach (var entry in entries.OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal))
        {
            yield return new ReportRow(day, entry.Key, entry.Value, 0);
        }
    }

    private async IAsyncEnumerable<ReportRow> ClosedDaysAsync(string site, ReportQuery query, DateOnly to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sql = query.By switch
        {
            ReportBy.Day => $"SELECT date, '' AS key, views, visitors FROM {Schema.Database}.daily_site FINAL WHERE site = {{site:String}} AND date BETWEEN {{from:Date}} AND {{to:Date}} ORDER BY date",
            ReportBy.Page => $"SELECT date, path AS key, views, 0 AS visitors FROM {Schema.Database}.daily_page FINAL WHERE site = {{site:String}} AND date BETWEEN {{from:Date}} AND {{to:Date}} ORDER BY date, views DESC, key",
            _ => $"SELECT date, referrer AS key, views, 0 AS visitors FROM {Schema.Database}.daily_referrer FINAL WHERE site = {{site:String}} AND date BETWEEN {{from:Date}} AND {{to:Date}} ORDER BY date, views DESC, key",
        };
        var parameters = QueryParameters.SiteDays(site, query.From, to);
        using var reader = await clickHouse.ExecuteReaderAsync(sql, parameters, cancellationToken: cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var date = DateOnly.FromDateTime((DateTime)reader.GetValue(0));
            var key = query.By == ReportBy.Day ? null : reader.GetString(1);
            yield return new ReportRow(date, key, Convert.ToInt64(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(3), System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
