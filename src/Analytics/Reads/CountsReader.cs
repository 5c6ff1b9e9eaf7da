using Analytics.Counting;
using Analytics.Sites;
using StackExchange.Redis;

namespace Analytics.Reads;

internal sealed record DayCount(string Date, long Views, long Visitors);

/// <summary>The <c>/counts</c> shape, also pushed to live subscribers.</summary>
internal sealed record SiteCounts(string Site, string TimeZone, IReadOnlyList<DayCount> Days, string Today, long Total);

/// <summary>Reads a site's absolute counts back from Redis: the last days (newest first) and the all-time total.</summary>
internal sealed class CountsReader(IConnectionMultiplexer redis, TimeProvider time)
{
    public const int MaxDays = 366;

    public async Task<SiteCounts> ReadAsync(SiteEntry site, int days)
    {
        var db = redis.GetDatabase();
        var today = site.LocalDay(time.GetUtcNow());
        var batch = db.CreateBatch();
        var views = new Task<RedisValue>[days];
        var visitors = new Task<long>[days];
        for (var i = 0; i < days; i++)
        {
            var day = today.AddDays(-i);
            views[i] = batch.HashGetAsync(RedisKeys.Day(site.Id, day), "views");
            visitors[i] = batch.HyperLogLogLengthAsync(RedisKeys.Visitors(site.Id, day));
        }

        var total = batch.StringGetAsync(RedisKeys.Total(site.Id));
        batch.Execute();
        await Task.WhenAll([.. views, .. visitors, total]);

        var list = new DayCount[days];
        for (var i = 0; i < days; i++)
        {
            list[i] = new DayCount(RedisKeys.Date(today.AddDays(-i)), (long)views[i].Result, visitors[i].Result);
        }

        return new SiteCounts(site.Id, site.Site.TimeZone, list, RedisKeys.Date(today), (long)total.Result);
    }
}
