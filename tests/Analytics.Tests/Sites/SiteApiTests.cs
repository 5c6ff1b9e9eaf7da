using System.Net;
using System.Net.Http.Json;
using Analytics.Counting;
using Analytics.Sites;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Sites;

public sealed class SiteApiTests(Servers servers)
{
    [Theory]
    [InlineData("""{"id":"Bad_Id","domains":["example.com"]}""", "id")]
    [InlineData("""{"domains":["example.com"]}""", "id")]
    [InlineData("""{"id":"ok-id","domains":["not a domain"]}""", "domains")]
    [InlineData("""{"id":"ok-id","domains":[]}""", "domains")]
    [InlineData("""{"id":"ok-id","domains":["example.com"],"timeZone":"Mars/Olympus_Mons"}""", "timeZone")]
    [InlineData("""{"id":"ok-id","domains":"example.com"}""", "domains")]
    [InlineData("""{"id":"ok-id","domains":["example.com"],"publicCounter":"yes"}""", "publicCounter")]
    [InlineData("""{"id":"ok-id","domains":""", "body")]
    [InlineData("[]", "body")]
    [InlineData("42", "body")]
    public async Task BadSiteIsRefused(string body, string field)
    {
        await using var app = new TestApp(servers);
        using var admin = app.Admin();

        using var response = await admin.PostAsync(new Uri("/api/sites", UriKind.Relative), Http.Json(body));

        var problem = await Http.AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
        // Said in the API's terms, never the service's own type names.
        Assert.DoesNotContain("Analytics.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyThatIsNotJsonIs415SayingSo()
    {
        await using var app = new TestApp(servers);
        using var admin = app.Admin();

        using var response = await admin.PostAsync(new Uri("/api/sites", UriKind.Relative), Http.Json("""{"id":"x","domains":["example.com"]}""", "text/plain"));

        var problem = await Http.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("demo\n")]
    [InlineData("demo\r\n")]
    public async Task IdWithATrailingNewlineIsRefusedAndNotStored(string id)
    {
        await using var app = new TestApp(servers);
        using var admin = app.Admin();
        var site = Servers.NewSiteId() + id;

        using var response = await admin.PostAsync(new Uri("/api/sites", UriKind.Relative), Http.Json(new { id = site, domains = new[] { "example.com" } }));

        await Http.AssertProblemAsync(response, HttpStatusCode.BadRequest, "id");
        using var listed = await admin.GetAsync(new Uri("/api/sites", UriKind.Relative));
        Assert.DoesNotContain(site, await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASiteDeletedAndMadeAgainStartsEmpty()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("gone");
        var key = await app.CreateSiteAsync(site);
        var yesterday = app.Time.GetUtcNow().AddDays(-1);
        await app.SendBatchAsync(key, [("https://example.com/a", null), ("https://example.com/b", yesterday), ("https://example.com/b", yesterday)]);
        await app.RollupAsync(site, servers.Redis);
        using var admin = app.Admin();
        var report = new Uri($"/api/sites/{site}/reports/daily?by=page&format=csv&from=2026-10-01", UriKind.Relative);
        Assert.Equal(3, Csv.Parse(await admin.GetStringAsync(report)).Count);
        Assert.Equal(3, (await app.CountsAsync(site)).Total);
        // A hit checked against the site as it is now, still on its way when the site goes (another
        // node's cached copy of the site, or a batch held while Redis was away).
        var entry = (await app.Get<SiteStore>().FindAsync(site))!;
        var late = new Hit(site, entry.LocalDay(app.Time.GetUtcNow()), "/late", Hit.DirectReferrer, 42, entry.Site.Generation);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{site}", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await admin.GetAsync(new Uri($"/api/sites/{site}", UriKind.Relative)), HttpStatusCode.NotFound);
        await app.Get<CounterWriter>().CountAsync(late);
        // Nothing of the site is left but the mark that it was deleted.
        Assert.Equal([RedisKeys.Generation(site)], await servers.Redis.GetServers()[0].KeysAsync(pattern: $"a:{{{site}}}:*").ToListAsync());
        Assert.Equal(RedisKeys.Deleted, await servers.Redis.GetDatabase().StringGetAsync(RedisKeys.Generation(site)));
        var again = await app.CreateSiteAsync(site);
        await app.Get<CounterWriter>().CountAsync(late);

        Assert.Equal(0, (await app.CountsAsync(site)).Total);
        Assert.Single(Csv.Parse(await admin.GetStringAsync(report)));
        await app.SendBatchAsync(again, [("https://example.com/new", null)]);
        Assert.Equal(1, (await app.CountsAsync(site)).Total);
        await Http.AssertProblemAsync(await admin.DeleteAsync(new Uri("/api/sites/no-such-site-at-all", UriKind.Relative)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task RemovingASiteWaitsForARunningRollupAndGivesUpIfItNeverEnds()
    {
        // A private Redis: the rollup lock held here must not stall other tests' rollups.
        await using var redis = servers.PrivateRedis();
        await redis.StartAsync(TestContext.Current.CancellationToken);
        await using var app = new TestApp(servers, new() { ["Analytics:Rollup:LockTimeout"] = "00:00:01" }, redis: redis.ConnectionString);
        using var admin = app.Admin();
        using var lockHolder = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = lockHolder.GetDatabase();
        var waits = Servers.NewSiteId("wait");
        var stuck = Servers.NewSiteId("stuck");
        await app.CreateSiteAsync(waits);
        await app.CreateSiteAsync(stuck);

        // A rollup that finishes within its time: the removal waits for it, then goes ahead.
        await db.StringSetAsync(Analytics.Counting.RedisKeys.RollupLock, "another node", TimeSpan.FromMilliseconds(800));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{waits}", UriKind.Relative))).StatusCode);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(500), $"the removal did not wait for the rollup ({watch.Elapsed})");

        // One that holds on past its lock timeout and a margin: 503, and nothing is removed.
        await db.StringSetAsync(Analytics.Counting.RedisKeys.RollupLock, "a stuck node", TimeSpan.FromSeconds(30));
        await Http.AssertProblemAsync(await admin.DeleteAsync(new Uri($"/api/sites/{stuck}", UriKind.Relative)), HttpStatusCode.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri($"/api/sites/{stuck}", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task WhenClickHouseCannotDeleteASiteNothingIsRemovedAndItKeepsCounting()
    {
        await using var clickHouse = servers.PrivateClickHouse();
        await clickHouse.StartAsync();
        await using var app = new TestApp(servers, new() { ["Analytics:Rollup:Enabled"] = "false" }, clickHouse: clickHouse.ConnectionString);
        var site = Servers.NewSiteId("keep");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, [("https://example.com/a", null)]);
        using var admin = app.Admin();
        await clickHouse.StopAsync();

        await Http.AssertProblemAsync(await admin.DeleteAsync(new Uri($"/api/sites/{site}", UriKind.Relative)), HttpStatusCode.ServiceUnavailable);

        // Still there, and still counting: the mark that stops its counts was taken back.
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri($"/api/sites/{site}", UriKind.Relative))).StatusCode);
        await app.SendBatchAsync(key, [("https://example.com/b", null)]);
        Assert.Equal(2, (await app.CountsAsync(site)).Total);
        Assert.NotEqual(RedisKeys.Deleted, (string?)await servers.Redis.GetDatabase().StringGetAsync(RedisKeys.Generation(site)));

        await clickHouse.StartAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{site}", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task AChangeReadBeforeADeletionDoesNotBringTheSiteBack()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("back");
        await app.CreateSiteAsync(site);
        var store = app.Get<SiteStore>();
        var read = (await store.GetAsync(site))!;
        using var admin = app.Admin();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{site}", UriKind.Relative))).StatusCode);

        // A PATCH or a new ingest key that read the site just before: written back, it would make
        // a site whose every hit is dropped (its generation says deleted).
        Assert.False(await store.UpdateAsync(read with { PublicCounter = true }));
        Assert.False(await store.RotateIngestKeyAsync(read, "ik_too_late"));
        Assert.Null(await store.GetAsync(site));
        Assert.Null(await store.FindByIngestKeyAsync("ik_too_late"));
    }

    [Fact]
    public async Task HitsOfADeletedSitesGenerationAreDroppedEvenInTheLiveSitesBatch()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("mixed");
        await app.CreateSiteAsync(site);
        var entry = (await app.Get<SiteStore>().FindAsync(site))!;
        var day = entry.LocalDay(app.Time.GetUtcNow());
        Hit Of(string generation) => new(site, day, "/x", Hit.DirectReferrer, 0, generation);
        var counter = app.Get<CounterWriter>();

        // One group commit with hits checked against a generation that is gone (a node's stale copy
        // of the site) and hits of the live one, in either order: only the live ones count.
        await counter.CountAsync([Of("gone"), Of("gone"), Of("gone"), Of(entry.Site.Generation), Of(entry.Site.Generation)]);
        await counter.CountAsync([Of(entry.Site.Generation), Of("gone"), Of("gone")]);

        Assert.Equal(3, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task AChangeReadBeforeTheSiteWasMadeAgainIsNotWrittenOverTheNewSite()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("again");
        await app.CreateSiteAsync(site);
        var store = app.Get<SiteStore>();
        var read = (await store.GetAsync(site))!;
        using var admin = app.Admin();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{site}", UriKind.Relative))).StatusCode);
        var key = await app.CreateSiteAsync(site);

        Assert.False(await store.UpdateAsync(read with { PublicCounter = true }));
        await app.SendBatchAsync(key, [("https://example.com/new", null)]);
        Assert.Equal(1, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task ARollupLeavesASiteBeingDeletedOutOfClickHouse()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:Rollup:Enabled"] = "false" });
        var site = Servers.NewSiteId("going");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, [("https://example.com/a", null)]);
        // The removal has marked it and not yet swept its keys (a rollup that got the lock after all).
        await servers.Redis.GetDatabase().StringSetAsync(RedisKeys.Generation(site), RedisKeys.Deleted);

        await app.Get<Analytics.Rollup.RollupRunner>().RunAsync();

        Assert.Empty(await servers.ClickHouse.DaysAsync(site));
    }

    [Fact]
    public async Task SiteIdIsTakenOnce()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var admin = app.Admin();

        using var again = await admin.PostAsJsonAsync("/api/sites", new { id = site, domains = new[] { "example.com" } });

        await Http.AssertProblemAsync(again, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task SiteCanBeReadChangedAndDeleted()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site, timeZone: "Europe/Istanbul");
        using var admin = app.Admin();

        var read = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/sites/{site}");
        Assert.Equal("Europe/Istanbul", read.GetProperty("timeZone").GetString());
        Assert.False(read.TryGetProperty("ingestKey", out _));

        using var patched = await admin.PatchAsJsonAsync($"/api/sites/{site}", new { timeZone = "Asia/Tokyo", domains = new[] { "example.com", "example.org" } });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("Asia/Tokyo", (await patched.ReadJsonAsync()).GetProperty("timeZone").GetString());

        // The new domain counts at once, and so does every hit after the change (and after a new ingest key).
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.org/", UriKind.Relative))).StatusCode);
        var rotated = (await (await admin.PostAsync(new Uri($"/api/sites/{site}/ingest-key", UriKind.Relative), null)).ReadJsonAsync()).GetProperty("ingestKey").GetString()!;
        await app.SendBatchAsync(rotated, [("https://example.com/after", null)]);
        Assert.Equal(2, (await app.CountsAsync(site)).Total);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{site}", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await admin.GetAsync(new Uri($"/api/sites/{site}", UriKind.Relative)), HttpStatusCode.NotFound);
        await Http.AssertProblemAsync(await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.org/", UriKind.Relative)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task HealthAndReadinessReportTheServers()
    {
        await using var app = new TestApp(servers);
        using var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/healthz"))).StatusCode);
        using var ready = await client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = await ready.ReadJsonAsync();
        Assert.Equal("up", body.GetProperty("redis").GetString());
        Assert.Equal("up", body.GetProperty("clickHouse").GetString());
        Assert.Equal(0, body.GetProperty("bufferedHits").GetInt64());
    }
}
