using Analytics.Counting;
using Analytics.Tests.Infrastructure;
using StackExchange.Redis;

namespace Analytics.Tests.Counting;

/// <summary>The Lua step every group commit goes through: a batch sent again is never counted twice.</summary>
public sealed class ApplyScriptTests(Servers servers)
{
    private static Task<RedisResult> ApplyAsync(IDatabase db, string site, DateOnly day, long sequence, long lowestUnresolved, int views, string path) =>
        db.ScriptEvaluateAsync(CounterWriter.ApplyScript,
            [RedisKeys.Applied(site, "test-writer"), RedisKeys.Total(site), RedisKeys.Dirty(site), RedisKeys.Day(site, day), RedisKeys.Pages(site, day), RedisKeys.Referrers(site, day), RedisKeys.Visitors(site, day)],
            [sequence, lowestUnresolved, 3600, 1, RedisKeys.Date(day), views, 1, 1, 1, path, views, Hit.DirectReferrer, views, BitConverter.GetBytes(42UL)]);

    [Fact]
    public async Task ABatchSentAgainInAnyOrderIsCountedOnce()
    {
        var db = servers.Redis.GetDatabase();
        var site = Servers.NewSiteId("apply");
        var day = new DateOnly(2026, 11, 20);

        Assert.Equal(1, (int)await ApplyAsync(db, site, day, sequence: 1, lowestUnresolved: 1, views: 3, "/a"));
        Assert.Equal(1, (int)await ApplyAsync(db, site, day, sequence: 2, lowestUnresolved: 1, views: 5, "/b"));
        // The answers to 1 and 2 were lost: both are sent again, in the other order.
        Assert.Equal(0, (int)await ApplyAsync(db, site, day, sequence: 2, lowestUnresolved: 1, views: 5, "/b"));
        Assert.Equal(0, (int)await ApplyAsync(db, site, day, sequence: 1, lowestUnresolved: 1, views: 3, "/a"));

        Assert.Equal(8, (long)await db.StringGetAsync(RedisKeys.Total(site)));
        Assert.Equal(8, (long)await db.HashGetAsync(RedisKeys.Day(site, day), "views"));
        Assert.Equal(3, (long)await db.HashGetAsync(RedisKeys.Pages(site, day), "/a"));
        Assert.Equal(5, (long)await db.HashGetAsync(RedisKeys.Pages(site, day), "/b"));
        Assert.Equal(1, await db.HyperLogLogLengthAsync(RedisKeys.Visitors(site, day)));
        Assert.Equal([RedisKeys.Date(day)], (await db.SetMembersAsync(RedisKeys.Dirty(site))).Select(m => m.ToString()));
    }

    [Fact]
    public async Task OneCallCarriesSeveralSitesAndSkipsOnlyTheOnesAlreadyApplied()
    {
        var db = servers.Redis.GetDatabase();
        var (a, b) = (Servers.NewSiteId("apply"), Servers.NewSiteId("apply"));
        var day = new DateOnly(2026, 11, 20);
        RedisKey[] Keys(string site) => [RedisKeys.Applied(site, "test-writer"), RedisKeys.Total(site), RedisKeys.Dirty(site), RedisKeys.Day(site, day), RedisKeys.Pages(site, day), RedisKeys.Referrers(site, day), RedisKeys.Visitors(site, day)];
        RedisValue[] Section(int views) => [1, RedisKeys.Date(day), views, 1, 1, 0, "/", views, Hit.DirectReferrer, views];

        // Site a already has batch 7 (applied by an earlier call whose answer was lost).
        Assert.Equal(1, (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, Keys(a), [7, 7, 3600, .. Section(2)]));
        var applied = (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, [.. Keys(a), .. Keys(b)], [7, 7, 3600, .. Section(2), .. Section(4)]);

        Assert.Equal(1, applied);
        Assert.Equal(2, (long)await db.StringGetAsync(RedisKeys.Total(a)));
        Assert.Equal(4, (long)await db.StringGetAsync(RedisKeys.Total(b)));
        Assert.Equal(4, (long)await db.HashGetAsync(RedisKeys.Pages(b, day), "/"));
    }

    [Fact]
    public async Task TheRecordKeepsOnlyUnresolvedBatches()
    {
        var db = servers.Redis.GetDatabase();
        var site = Servers.NewSiteId("apply");
        var day = new DateOnly(2026, 11, 20);

        for (var sequence = 1; sequence <= 50; sequence++)
        {
            await ApplyAsync(db, site, day, sequence, lowestUnresolved: sequence, views: 1, "/");
        }

        Assert.Equal(1, await db.SortedSetLengthAsync(RedisKeys.Applied(site, "test-writer")));
        Assert.Equal(50, (long)await db.StringGetAsync(RedisKeys.Total(site)));
        Assert.NotNull(await db.KeyTimeToLiveAsync(RedisKeys.Applied(site, "test-writer")));
    }
}
