using Analytics.Counting;
using StackExchange.Redis;

namespace Analytics.Rollup;

/// <summary>The absolute counters of one site's day, as read back from Redis.</summary>
internal sealed record DayCounters(string Site, DateOnly Day, long Views, long Visitors, IReadOnlyList<KeyValuePair<string, long>> Pages, IReadOnlyList<KeyValuePair<string, long>> Referrers)
{
    /// <summary>Whether Redis still holds the day (false once its keys expired, or when there never were views).</summary>
    public bool Exists => Views > 0 || Pages.Count > 0;

    /// <summary>
    /// Reads many days, pipelined. With the breakdown, each day's counters are read in one
    /// transaction (its keys share the site's slot), so views, pages and referrers agree with each
    /// other even while hits land; without it (views and visitors only) in one plain batch.
    /// </summary>
    public static async Task<IReadOnlyList<DayCounters>> ReadAsync(IDatabase db, IReadOnlyList<(string Site, DateOnly Day)> days, bool withBreakdown = true)
    {
        var shared = withBreakdown ? null : db.CreateBatch();
        var reads = days.Select(d =>
        {
            var day = shared ?? db.CreateTransaction();
            var views = day.HashGetAsync(RedisKeys.Day(d.Site, d.Day), "views");
            var visitors = day.HyperLogLogLengthAsync(RedisKeys.Visitors(d.Site, d.Day));
            var pages = withBreakdown ? day.HashGetAllAsync(RedisKeys.Pages(d.Site, d.Day)) : Task.FromResult(Array.Empty<HashEntry>());
            var referrers = withBreakdown ? day.HashGetAllAsync(RedisKeys.Referrers(d.Site, d.Day)) : Task.FromResult(Array.Empty<HashEntry>());
            var executed = day is ITransaction transaction ? transaction.ExecuteAsync() : Task.FromResult(true);
            return (Views: views, Visitors: visitors, Pages: pages, Referrers: referrers, Executed: executed);
        }).ToList();
        shared?.Execute();
        await Task.WhenAll(reads.SelectMany(r => new Task[] { r.Executed, r.Views, r.Visitors, r.Pages, r.Referrers }));
        return [.. days.Select((d, i) => new DayCounters(
            d.Site,
            d.Day,
            (long)reads[i].Views.Result,
            reads[i].Visitors.Result,
            [.. reads[i].Pages.Result.Select(e => new KeyValuePair<string, long>(e.Name!, (long)e.Value))],
            [.. reads[i].Referrers.Result.Select(e => new KeyValuePair<string, long>(e.Name!, (long)e.Value))]))];
    }
}
