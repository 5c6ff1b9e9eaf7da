using Analytics.ClickHouse;
using Analytics.Counting;
using Analytics.Rollup;
using Analytics.Sites;
using ClickHouse.Driver;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Reads;

public sealed record DayCount(string Date, long Views, long Visitors);

/// <summary>The <c>/counts</c> shape, also pushed to live subscribers.</summary>
public sealed record SiteCounts(string Site, string TimeZone, IReadOnlyList<DayCount> Days, string Today, long Total);

/// <summary>
/// Reads a site's absolute counts: the last days (newest first) and the all-time total from
/// Redis; days older than Redis's retention from ClickHouse, where they were rolled up.
/// </summary>
internal sealed partial class CountsReader(IConnectionMultiplexer redis, ClickHouseClient clickHouse, TimeProvider time, IOptions<RollupOptions> rollup, ILogger<CountsReader> logger)
{
    public const int MaxDays = 366;

    public async Task<SiteCounts> ReadAsync(SiteEntry site, int days)
    {
        var db = redis.GetDatabase();
        var today = site.LocalDay(time.GetUtcNow());
        var total = db.StringGetAsync(RedisKeys.Total(site.Id));
        var counters = await DayCounters.ReadAsync(db, [.. Enumerable.Range(0, days).Select(i => (site.Id, today.AddDays(-i)))], withBreakdown: false);
        var list = counters.Select(c => new DayCount(RedisKeys.Date(c.Day), c.Views, c.Visitors)).ToArray();

        // Days Redis may have let go of: ClickHouse is their record.
        var firstExpired = (int)Math.Ceiling(rollup.Value.Retention.TotalDays);
        if (days > firstExpired && counters.Skip(firstExpired).Any(c => !c.Exists))
        {
            await FillFromClickHouseAsync(site.Id, list, today.AddDays(-(days - 1)), today.AddDays(-firstExpired), counters);
        }

        return new SiteCounts(site.Id, site.Site.TimeZone, list, RedisKeys.Date(today), (long)await total);
    }

    private async Task FillFromClickHouseAsync(string site, DayCount[] list, DateOnly from, DateOnly to, IReadOnlyList<DayCounters> inRedis)
    {
        try
        {
            var parameters = QueryParameters.SiteDays(site, from, to);
            using var reader = await clickHouse.ExecuteReaderAsync(
                $"SELECT date, views, visitors FROM {Schema.Database}.daily_site FINAL WHERE site = {{site:String}} AND date BETWEEN {{from:Date}} AND {{to:Date}}", parameters);
            var index = list.Select((d, i) => (d.Date, i)).ToDictionary(e => e.Date, e => e.i);
            while (await reader.ReadAsync())
            {
                var date = RedisKeys.Date(DateOnly.FromDateTime((DateTime)reader.GetValue(0)));
                if (index.TryGetValue(date, out var i) && !inRedis[i].Exists)
                {
                    list[i] = new DayCount(date, Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
        {
            LogClickHouseUnavailable(e, site);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Old days of {Site} could not be read from ClickHouse; they show as 0.")]
    private partial void LogClickHouseUnavailable(Exception exception, string site);
}
