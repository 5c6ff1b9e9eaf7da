using Analytics.Counting;
using Analytics.Tests.Infrastructure;
using StackExchange.Redis;

namespace Analytics.Tests.Counting;

/// <summary>The Lua step every group commit goes through: a batch sent again is never counted twice.</summary>
public sealed class ApplyScriptTests(Servers servers)
{
    private static Task<RedisResult> ApplyAsync(IDatabase db, string site, DateOnly day, long sequence, long lowestUnresolved, int views, string path) =>
        db.ScriptEvaluateAsync(CounterWriter.ApplyScript,
            [RedisKeys.Applied(site, "test-writer"), .. SiteKeys(site, day)],
            [sequence, lowestUnresolved, 3600, 86400, 1, "", 0, RedisKeys.Date(day), views, 1, 1, 1, path, views, Hit.DirectReferrer, views, BitConverter.GetBytes(42UL)]);

    private static RedisKey[] SiteKeys(string site, DateOnly day) =>
        [RedisKeys.Total(site), RedisKeys.Dirty(site), RedisKeys.Generation(site), RedisKeys.Day(site, day), RedisKeys.Pages(site, day), RedisKeys.Referrers(site, day), RedisKeys.Visitors(site, day)];

    /// <summary>One site's part: one day, <paramref name="views"/> on "/", direct, with two visitors unless there are none.</summary>
    private static RedisValue[] Section(DateOnly day, int views, string generation = "", bool visitors = false) =>
        visitors
            ? [1, generation, 0, RedisKeys.Date(day), views, 1, 1, 2, "/", views, Hit.DirectReferrer, views, BitConverter.GetBytes(7UL), BitConverter.GetBytes(8UL)]
            : [1, generation, 0, RedisKeys.Date(day), views, 1, 1, 0, "/", views, Hit.DirectReferrer, views];

    [Fact]
    public async Task CountsApplyOnlyUnderTheGenerationTheirHitsWereCheckedAgainst()
    {
        var db = servers.Redis.GetDatabase();
        var (old, live, legacy) = (Servers.NewSiteId("gen"), Servers.NewSiteId("gen"), Servers.NewSiteId("gen"));
        var day = new DateOnly(2026, 11, 20);
        // "old" was deleted and made again (generation g2); "live" is g1; "legacy" predates generations.
        await db.StringSetAsync(RedisKeys.Generation(old), "g2");
        await db.StringSetAsync(RedisKeys.Generation(live), "g1");
        long sequence = 100;
        Task<RedisResult> Apply(RedisKey[] keys, RedisValue[] sections) =>
            db.ScriptEvaluateAsync(CounterWriter.ApplyScript, [RedisKeys.Applied($"test-writer-{old}"), .. keys], [++sequence, sequence, 3600, 86400, .. sections]);

        // One call: a stale part first (its pages, referrers and visitors are skipped over), then two live ones.
        await Apply([.. SiteKeys(old, day), .. SiteKeys(live, day), .. SiteKeys(legacy, day)],
            [.. Section(day, 5, "g-before", visitors: true), .. Section(day, 3, "g1", visitors: true), .. Section(day, 2)]);

        Assert.False(await db.KeyExistsAsync(RedisKeys.Total(old)));
        Assert.False(await db.KeyExistsAsync(RedisKeys.Dirty(old)));
        Assert.False(await db.KeyExistsAsync(RedisKeys.Pages(old, day)));
        Assert.Equal(3, (long)await db.StringGetAsync(RedisKeys.Total(live)));
        Assert.Equal(3, (long)await db.HashGetAsync(RedisKeys.Pages(live, day), "/"));
        Assert.Equal(2, await db.HyperLogLogLengthAsync(RedisKeys.Visitors(live, day)));
        Assert.Equal(2, (long)await db.StringGetAsync(RedisKeys.Total(legacy)));

        // A node from before generations sends none: counted while the site lives.
        await Apply(SiteKeys(live, day), Section(day, 1));
        Assert.Equal(4, (long)await db.StringGetAsync(RedisKeys.Total(live)));

        // The site made again counts its own hits; once deleted, nobody's (nor generation-less hits).
        await Apply(SiteKeys(old, day), Section(day, 4, "g2"));
        Assert.Equal(4, (long)await db.StringGetAsync(RedisKeys.Total(old)));
        await db.StringSetAsync(RedisKeys.Generation(live), RedisKeys.Deleted);
        await Apply(SiteKeys(live, day), Section(day, 9, "g1"));
        await Apply(SiteKeys(live, day), Section(day, 9));
        Assert.Equal(4, (long)await db.StringGetAsync(RedisKeys.Total(live)));
    }

    [Fact]
    public async Task AServerSideBatchWhoseKeyHoldsAnAnswerAlreadyIsNotCountedAgain()
    {
        var db = servers.Redis.GetDatabase();
        var site = Servers.NewSiteId("answer");
        var day = new DateOnly(2026, 11, 20);
        var (first, second) = (RedisKeys.Idempotency(site, "part-1"), RedisKeys.Idempotency(site, "part-2"));
        RedisValue[] Part(int views, string answer) => [1, "", 1, RedisKeys.Date(day), views, 1, 1, 0, "/", views, Hit.DirectReferrer, views, answer];
        Task<RedisResult> Apply(long sequence, RedisKey answerKey, int views, string answer) =>
            db.ScriptEvaluateAsync(CounterWriter.ApplyScript, [RedisKeys.Applied($"test-writer-{site}"), .. SiteKeys(site, day), answerKey], [sequence, sequence, 3600, 86400, .. Part(views, answer)]);

        // Counted with its answer, in one step; a pending mark ("") does not stop it.
        await db.StringSetAsync(first, "");
        await Apply(1, first, 3, """{"accepted":3}""");
        Assert.Equal("""{"accepted":3}""", (string?)await db.StringGetAsync(first));
        Assert.Equal(3, (long)await db.StringGetAsync(RedisKeys.Total(site)));

        // The same batch from another writer (a node that held it while it could not reach Redis,
        // and whose pending mark ran out meanwhile): the answer is there, so it is not counted again.
        await Apply(2, first, 3, """{"accepted":3}""");
        Assert.Equal(3, (long)await db.StringGetAsync(RedisKeys.Total(site)));

        // Another key counts.
        await Apply(3, second, 4, """{"accepted":4}""");
        Assert.Equal(7, (long)await db.StringGetAsync(RedisKeys.Total(site)));
    }

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
    public async Task OneCallCarriesSeveralSitesUnderOneRecord()
    {
        var db = servers.Redis.GetDatabase();
        var (a, b) = (Servers.NewSiteId("apply"), Servers.NewSiteId("apply"));
        var record = RedisKeys.Applied($"test-writer-{a}");
        var day = new DateOnly(2026, 11, 20);
        RedisKey[] keys = [record, .. SiteKeys(a, day), .. SiteKeys(b, day)];

        Assert.Equal(1, (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, keys, [7, 7, 3600, 86400, .. Section(day, 2), .. Section(day, 4)]));
        // The answer was lost: the same batch again changes nothing, for either site.
        Assert.Equal(0, (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, keys, [7, 7, 3600, 86400, .. Section(day, 2), .. Section(day, 4)]));

        Assert.Equal(2, (long)await db.StringGetAsync(RedisKeys.Total(a)));
        Assert.Equal(4, (long)await db.StringGetAsync(RedisKeys.Total(b)));
        Assert.Equal(2, (long)await db.HashGetAsync(RedisKeys.Day(a, day), "views"));
        Assert.Equal(4, (long)await db.HashGetAsync(RedisKeys.Pages(b, day), "/"));
        Assert.Equal(4, (long)await db.HashGetAsync(RedisKeys.Referrers(b, day), Hit.DirectReferrer));
        Assert.Equal([RedisKeys.Date(day)], (await db.SetMembersAsync(RedisKeys.Dirty(b))).Select(m => m.ToString()));
    }

    [Fact]
    public async Task OnAClusterEachSitesPartIsCheckedAgainstItsOwnRecord()
    {
        var db = servers.Redis.GetDatabase();
        var (a, b) = (Servers.NewSiteId("apply"), Servers.NewSiteId("apply"));
        var day = new DateOnly(2026, 11, 20);

        // Batch 7 reached site a, and the call for site b failed: sending both parts again counts b once and a not again.
        Assert.Equal(1, (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, [RedisKeys.Applied(a, "w"), .. SiteKeys(a, day)], [7, 7, 3600, 86400, .. Section(day, 2)]));
        Assert.Equal(0, (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, [RedisKeys.Applied(a, "w"), .. SiteKeys(a, day)], [7, 7, 3600, 86400, .. Section(day, 2)]));
        Assert.Equal(1, (int)await db.ScriptEvaluateAsync(CounterWriter.ApplyScript, [RedisKeys.Applied(b, "w"), .. SiteKeys(b, day)], [7, 7, 3600, 86400, .. Section(day, 4)]));

        Assert.Equal(2, (long)await db.StringGetAsync(RedisKeys.Total(a)));
        Assert.Equal(4, (long)await db.StringGetAsync(RedisKeys.Total(b)));
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

        // Trimmed at every 16th batch to those not below the lowest unresolved one: 48, 49 and 50 are left.
        Assert.Equal([48, 49, 50], (await db.SortedSetRangeByRankAsync(RedisKeys.Applied(site, "test-writer"))).Select(m => (int)m));
        Assert.Equal(50, (long)await db.StringGetAsync(RedisKeys.Total(site)));
        Assert.NotNull(await db.KeyTimeToLiveAsync(RedisKeys.Applied(site, "test-writer")));
    }

    [Fact]
    public async Task ANewRecordExpiresAtOnce()
    {
        var db = servers.Redis.GetDatabase();
        var site = Servers.NewSiteId("apply");
        var day = new DateOnly(2026, 11, 20);

        await ApplyAsync(db, site, day, sequence: 3, lowestUnresolved: 3, views: 1, "/");

        var ttl = await db.KeyTimeToLiveAsync(RedisKeys.Applied(site, "test-writer"));
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
    }
}
