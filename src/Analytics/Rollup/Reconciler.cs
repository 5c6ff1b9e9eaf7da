using System.Globalization;
using Analytics.ClickHouse;
using Analytics.Counting;
using ClickHouse.Driver;
using StackExchange.Redis;

namespace Analytics.Rollup;

internal enum ReconcileStatus
{
    /// <summary>Redis and ClickHouse agree.</summary>
    Ok,

    /// <summary>Changed since the last rollup: ClickHouse catches up at the next one.</summary>
    Pending,

    /// <summary>Redis no longer holds the day (retention); ClickHouse is the record.</summary>
    Expired,

    Mismatch,
}

internal sealed record ReconcileDay(DateOnly Date, long RedisViews, long RedisPageViews, long RedisVisitors, long ClickHouseViews, long ClickHousePageViews, long ClickHouseVisitors, ReconcileStatus Status);

/// <summary>Compares a site's days in Redis and in ClickHouse: views, the sum over pages, and visitors.</summary>
internal sealed class Reconciler(IConnectionMultiplexer redis, ClickHouseClient clickHouse)
{
    public async Task<IReadOnlyList<ReconcileDay>> CompareAsync(string site, DateOnly from, DateOnly to, CancellationToken cancellationToken = default)
    {
        var days = new List<(string, DateOnly)>();
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            days.Add((site, day));
        }

        var db = redis.GetDatabase();
        var inRedis = await DayCounters.ReadAsync(db, days);
        var members = days.Select(d => (RedisValue)RedisKeys.Date(d.Item2)).ToArray();
        var dirty = await db.SetContainsAsync(RedisKeys.Dirty(site), members);
        var inFlight = await db.SetContainsAsync(RedisKeys.DirtyInFlight(site), members);
        var stored = await ClickHouseDaysAsync(site, from, to, cancellationToken);

        return [.. inRedis.Select((r, i) =>
        {
            var (views, visitors, pageViews) = stored.GetValueOrDefault(r.Day);
            var redisPageViews = r.Pages.Sum(p => p.Value);
            var status = !r.Exists ? (views > 0 ? ReconcileStatus.Expired : ReconcileStatus.Ok)
                : dirty[i] || inFlight[i] ? ReconcileStatus.Pending
                : r.Views == views && redisPageViews == pageViews && r.Visitors == visitors ? ReconcileStatus.Ok
                : ReconcileStatus.Mismatch;
            return new ReconcileDay(r.Day, r.Views, redisPageViews, r.Visitors, views, pageViews, visitors, status);
        })];
    }

    private async Task<Dictionary<DateOnly, (long Views, long Visitors, long PageViews)>> ClickHouseDaysAsync(string site, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var sql = $$"""
            SELECT s.date, s.views, s.visitors, p.page_views
            FROM (SELECT date, views, visitors FROM {{Schema.Database}}.daily_site FINAL WHERE site = {site:String} AND date BETWEEN {from:Date} AND {to:Date}) AS s
            LEFT JOIN (SELECT date, sum(views) AS page_views FROM {{Schema.Database}}.daily_page FINAL WHERE site = {site:String} AND date BETWEEN {from:Date} AND {to:Date} GROUP BY date) AS p
            USING (date)
            """;
        var parameters = QueryParameters.SiteDays(site, from, to);
        var result = new Dictionary<DateOnly, (long, long, long)>();
        using var reader = await clickHouse.ExecuteReaderAsync(sql, parameters, cancellationToken: cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[DateOnly.FromDateTime((DateTime)reader.GetValue(0))] = (
                Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture));
        }

        return result;
    }
}
