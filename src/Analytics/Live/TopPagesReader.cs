using Analytics.Counting;
using Analytics.Sites;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Live;

/// <summary>Today's most viewed pages and referrers of a site, from Redis.</summary>
internal sealed class TopPagesReader(IConnectionMultiplexer redis, TimeProvider time, IOptions<LiveOptions> options)
{
    public async Task<TopPages> ReadAsync(SiteEntry site)
    {
        var today = site.LocalDay(time.GetUtcNow());
        var db = redis.GetDatabase();
        var pages = db.HashGetAllAsync(RedisKeys.Pages(site.Id, today));
        var referrers = db.HashGetAllAsync(RedisKeys.Referrers(site.Id, today));
        await Task.WhenAll(pages, referrers);
        var top = options.Value.TopPages;
        return new TopPages(
            site.Id,
            RedisKeys.Date(today),
            [.. Top(pages.Result, top).Select(e => new PageCount(e.Name!, (long)e.Value))],
            [.. Top(referrers.Result, top).Select(e => new ReferrerCount(e.Name!, (long)e.Value))]);
    }

    private static IEnumerable<HashEntry> Top(HashEntry[] entries, int count) =>
        entries.OrderByDescending(e => (long)e.Value).ThenBy(e => e.Name.ToString(), StringComparer.Ordinal).Take(count);
}
