using Analytics.Counting;
using Analytics.Rollup;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Rollup;

public sealed class RollupTests(Servers servers)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 15, 0, 0, TimeSpan.Zero);

    /// <summary>Hits over three days, several pages and referrers; returns the site and how many were sent.</summary>
    private static Dictionary<string, string?> NoRollupWorker => new() { ["Analytics:Rollup:Enabled"] = "false" };

    private static async Task<(string Site, int Sent)> SendHitsAsync(TestApp app, string? site = null)
    {
        site ??= Servers.NewSiteId("roll");
        var key = await app.CreateSiteAsync(site, timeZone: "Europe/Istanbul");
        app.Time.SetUtcNow(Now);
        var events = Enumerable.Range(0, 300).Select(i => ($"https://example.com/p/{i % 17}", (DateTimeOffset?)Now.AddDays(-(i % 3)).AddMinutes(-i))).ToList();
        await app.SendBatchAsync(key, events, referrer: "https://www.google.com/");
        await app.SendBatchAsync(key, events.Take(40));
        return (site, events.Count + 40);
    }

    private async Task AssertClickHouseEqualsRedisAsync(TestApp app, string site, int sent)
    {
        var counts = await app.CountsAsync(site, days: 5);
        var stored = await servers.ClickHouse.DaysAsync(site);
        Assert.Equal(sent, stored.Values.Sum(d => d.Views));
        foreach (var day in counts.Days.Where(d => d.Views > 0))
        {
            Assert.Equal((day.Views, day.Visitors), stored[day.Date]);
        }

        var db = servers.Redis.GetDatabase();
        var pages = await servers.ClickHouse.BreakdownAsync(site, "daily_page", "path");
        var referrers = await servers.ClickHouse.BreakdownAsync(site, "daily_referrer", "referrer");
        Assert.Equal(sent, pages.Values.Sum());
        Assert.Equal(sent, referrers.Values.Sum());
        foreach (var date in stored.Keys)
        {
            var day = DateOnly.Parse(date, System.Globalization.CultureInfo.InvariantCulture);
            var redisPages = (await db.HashGetAllAsync(RedisKeys.Pages(site, day))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
            Assert.Equal(redisPages, pages.Where(p => p.Key.Date == date).ToDictionary(p => p.Key.Key, p => p.Value));
        }
    }

    [Fact]
    public async Task RollupWritesTheRedisCountsToClickHouse()
    {
        await using var app = new TestApp(servers);
        var (site, sent) = await SendHitsAsync(app);

        await app.RollupAsync(site, servers.Redis);

        await AssertClickHouseEqualsRedisAsync(app, site, sent);
        Assert.Equal(340, sent);
    }

    [Fact]
    public async Task RollingUpAgainDoesNotDoubleCount()
    {
        await using var app = new TestApp(servers);
        var (site, sent) = await SendHitsAsync(app);
        await app.RollupAsync(site, servers.Redis);

        // Mark every day changed again, as if hits had come, and roll up twice more.
        var db = servers.Redis.GetDatabase();
        foreach (var date in (await servers.ClickHouse.DaysAsync(site)).Keys)
        {
            await db.SetAddAsync(RedisKeys.Dirty(site), date);
        }

        await app.RollupAsync(site, servers.Redis);
        await app.RollupAsync(site, servers.Redis);

        await AssertClickHouseEqualsRedisAsync(app, site, sent);
        Assert.Equal(sent, await servers.ClickHouse.ScalarAsync("SELECT sum(views) FROM (SELECT argMax(views, version) AS views FROM analytics.daily_site WHERE site = {site:String} GROUP BY date)", site));
    }

    [Fact]
    public async Task TwoNodesRollingUpWhileHitsArriveCountEachHitOnce()
    {
        await using var first = new TestApp(servers);
        await using var second = new TestApp(servers);
        var site = Servers.NewSiteId("two");
        var key = await first.CreateSiteAsync(site);
        var sent = 0;
        using var stop = new CancellationTokenSource();
        var rollups = new[] { first, second }.Select(app => Task.Run(async () =>
        {
            var runner = app.Get<RollupRunner>();
            while (!stop.IsCancellationRequested)
            {
                await runner.RunAsync();
            }
        })).ToArray();

        for (var round = 0; round < 20; round++)
        {
            await (round % 2 == 0 ? first : second).SendBatchAsync(key, Enumerable.Range(0, 25).Select(i => ($"https://example.com/{i % 4}", (DateTimeOffset?)null)));
            sent += 25;
        }

        await stop.CancelAsync();
        await Task.WhenAll(rollups);
        await first.RollupAsync(site, servers.Redis);

        var stored = await servers.ClickHouse.DaysAsync(site);
        Assert.Equal(sent, stored.Values.Sum(d => d.Views));
        Assert.Equal(sent, (await servers.ClickHouse.BreakdownAsync(site, "daily_page", "path")).Values.Sum());
        Assert.Equal(sent, (await first.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task ClickHouseDownDuringRollupIsCaughtUpWithoutDoubling()
    {
        await using var redis = servers.PrivateRedis();
        await using var clickHouse = servers.PrivateClickHouse();
        await Task.WhenAll(redis.StartAsync(), clickHouse.StartAsync());
        // The test runs each rollup itself: the app's own would take the lock when the clock moves.
        await using var app = new TestApp(servers, NoRollupWorker, redis: redis.ConnectionString, clickHouse: clickHouse.ConnectionString);
        using var clickHouseClient = new global::ClickHouse.Driver.ClickHouseClient(clickHouse.ConnectionString);
        await Analytics.ClickHouse.Schema.MigrateAsync(clickHouseClient, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, default);
        using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var (site, sent) = await SendHitsAsync(app);
        var runner = app.Get<RollupRunner>();
        Assert.NotNull(await runner.RunAsync());
        Assert.Equal(sent, (await clickHouseClient.DaysAsync(site)).Values.Sum(d => d.Views));

        // More hits, then ClickHouse goes away: the rollup fails and keeps the pairs.
        var key = await app.CreateSiteAsync(site + "-b");
        await app.SendBatchAsync(key, Enumerable.Range(0, 60).Select(i => ($"https://example.com/{i % 5}", (DateTimeOffset?)null)));
        await clickHouse.StopAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => runner.RunAsync());
        var db = redisClient.GetDatabase();
        Assert.True(await db.SetLengthAsync(RedisKeys.Dirty(site + "-b")) > 0);
        Assert.Equal(0, await db.SetLengthAsync(RedisKeys.DirtyInFlight(site + "-b")));
        Assert.False(await db.KeyExistsAsync(RedisKeys.RollupLock));

        await clickHouse.StartAsync();
        Assert.NotNull(await runner.RunAsync());
        Assert.Equal(0, await db.SetLengthAsync(RedisKeys.Dirty(site + "-b")));

        Assert.Equal(sent, (await clickHouseClient.DaysAsync(site)).Values.Sum(d => d.Views));
        Assert.Equal(60, (await clickHouseClient.DaysAsync(site + "-b")).Values.Sum(d => d.Views));
        Assert.Equal(60, (await clickHouseClient.BreakdownAsync(site + "-b", "daily_page", "path")).Values.Sum());
    }

    [Fact]
    public async Task PairsTakenByARollupThatDiedArePutBack()
    {
        await using var redis = servers.PrivateRedis();
        await redis.StartAsync();
        await using var app = new TestApp(servers, NoRollupWorker, redis: redis.ConnectionString);
        var site = Servers.NewSiteId("dead");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, Enumerable.Range(0, 10).Select(i => ($"https://example.com/{i}", (DateTimeOffset?)null)));
        using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = redisClient.GetDatabase();

        // A rollup took the pairs and died before writing: they sit in the in-flight set, its lock expired.
        var members = await db.SetMembersAsync(RedisKeys.Dirty(site));
        await db.SetMoveAsync(RedisKeys.Dirty(site), RedisKeys.DirtyInFlight(site), members.Single());

        Assert.NotNull(await app.Get<RollupRunner>().RunAsync());

        Assert.Equal(10, (await servers.ClickHouse.DaysAsync(site)).Values.Sum(d => d.Views));
        Assert.Equal(0, await db.SetLengthAsync(RedisKeys.DirtyInFlight(site)));
    }

    [Fact]
    public async Task RolledUpDaysExpireAfterTheRetentionAndTheTotalNever()
    {
        await using var app = new TestApp(servers);
        var (site, _) = await SendHitsAsync(app);
        var db = servers.Redis.GetDatabase();
        var day = new DateOnly(2026, 11, 19);
        Assert.Null(await db.KeyTimeToLiveAsync(RedisKeys.Day(site, day)));

        await app.RollupAsync(site, servers.Redis);

        var expiry = await db.KeyExpireTimeAsync(RedisKeys.Pages(site, day));
        Assert.Equal(new DateTime(2026, 11, 20, 0, 0, 0, DateTimeKind.Utc).AddDays(40), expiry);
        Assert.Equal(expiry, await db.KeyExpireTimeAsync(RedisKeys.Day(site, day)));
        Assert.Equal(expiry, await db.KeyExpireTimeAsync(RedisKeys.Visitors(site, day)));
        Assert.Null(await db.KeyTimeToLiveAsync(RedisKeys.Total(site)));
    }

    [Fact]
    public async Task CountsOfDaysRedisLetGoOfComeFromClickHouse()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("old");
        var key = await app.CreateSiteAsync(site);
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 20, 12, 0, 0, TimeSpan.Zero));
        await app.SendBatchAsync(key, Enumerable.Range(0, 12).Select(i => ("https://example.com/", (DateTimeOffset?)new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero))));
        await app.RollupAsync(site, servers.Redis);

        // 45 days later the day's Redis keys have expired (retention 40 days); ClickHouse keeps it.
        app.Time.SetUtcNow(new DateTimeOffset(2026, 12, 16, 12, 0, 0, TimeSpan.Zero));
        var day = new DateOnly(2026, 11, 1);
        await servers.Redis.GetDatabase().KeyDeleteAsync([RedisKeys.Day(site, day), RedisKeys.Pages(site, day), RedisKeys.Referrers(site, day), RedisKeys.Visitors(site, day)]);

        var counts = await app.CountsAsync(site, days: 60);

        Assert.Equal(12, counts.ViewsOn("2026-11-01"));
        Assert.Equal(12, counts.Days.Sum(d => d.Views));
        Assert.Equal(12, counts.Total);
    }

    [Fact]
    public async Task TheWorkerRollsUpEveryInterval()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:Rollup:Interval"] = "00:00:05" });
        var site = Servers.NewSiteId("worker");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, Enumerable.Range(0, 7).Select(i => ($"https://example.com/{i}", (DateTimeOffset?)null)));

        var deadline = DateTime.UtcNow.AddSeconds(20);
        long stored;
        do
        {
            app.Time.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(100);
            stored = (await servers.ClickHouse.DaysAsync(site)).Values.Sum(d => d.Views);
        }
        while (stored < 7 && DateTime.UtcNow < deadline);

        Assert.Equal(7, stored);
    }
}
