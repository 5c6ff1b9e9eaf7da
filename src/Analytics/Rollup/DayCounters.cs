using Analytics.Counting;
using StackExchange.Redis;

namespace Analytics.Rollup;

/// <summary>The absolute counters of one site's day, as read back from Redis.</summary>
internal sealed record DayCounters(string Site, DateOnly Day, long Views, long Visitors, IReadOnlyList<KeyValuePair<string, long>> Pages, IReadOnlyList<KeyValuePair<string, long>> Referrers)
{
    /// <summary>Whether Redis still holds the day (false once its keys expired, or when there never were views).</summary>
    public bool Exists => Views > 0 || Pages.Count > 0;

    /// <summary>Reads many days in one pipelined round trip.</summary>
    public static async Task<IReadOnlyList<DayCounters>> ReadAsync(IDatabase db, IReadOnlyList<(string Site, DateOnly Day)> days, bool withBreakdown = true)
    {
        var batch = db.CreateBatch();
        var reads = days.Select(d => (
            Views: batch.HashGetAsync(RedisKeys.Day(d.Site, d.Day), "views"),
            Visitors: batch.HyperLogLogLengthAsync(RedisKeys.Visitors(d.Site, d.Day)),
            Pages: withBreakdown ? batch.HashGetAllAsync(RedisKeys.Pages(d.Site, d.Day)) : Task.FromResult(Array.Empty<HashEntry>()),
            Referrers: withBreakdown ? batch.HashGetAllAsync(RedisKeys.Referrers(d.Site, d.Day)) : Task.FromResult(Array.Empty<HashEntry>()))).ToList();
        batch.Execute();
        await Task.WhenAll(reads.SelectMany(r => new Task[] { r.Views, r.Visitors, r.Pages, r.Referrers }));
        return [.. days.Select((d, i) => new DayCounters(
            d.Site,
            d.Day,
            (long)reads[i].Views.Result,
            reads[i].Visitors.Result,
            [.. reads[i].Pages.Result.Select(e => new KeyValuePair<string, long>(e.Name!, (long)e.Value))],
            [.. reads[i].Referrers.Result.Select(e => new KeyValuePair<string, long>(e.Name!, (long)e.Value))]))];
    }
}
