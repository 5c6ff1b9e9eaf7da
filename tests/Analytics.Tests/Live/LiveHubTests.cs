using System.Collections.Concurrent;
using System.Net.Http.Json;
using Analytics.Tests.Infrastructure;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Analytics.Tests.Live;

public sealed class LiveHubTests(Servers servers)
{
    internal sealed record Counts(string Site, string TimeZone, List<TestApp.Day> Days, string Today, long Total);

    internal sealed record Page(string Path, long Views);

    internal sealed record TopPages(string Site, string Date, List<Page> Pages);

    private static HubConnection Connect(TestApp app, string? cookie = null, string? token = null, bool webSockets = false, string? origin = null, string? fetchSite = null)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(app.Server.BaseAddress, "/hubs/live"), o =>
            {
                o.HttpMessageHandlerFactory = _ => app.Server.CreateHandler();
                if (webSockets)
                {
                    o.Transports = HttpTransportType.WebSockets;
                    o.SkipNegotiation = true;
                    // As browsers do: a WebSocket carries no headers, so the token rides in the query.
                    o.WebSocketFactory = async (context, ct) =>
                    {
                        var uri = token is null ? context.Uri : new Uri($"{context.Uri}{(context.Uri.Query.Length > 0 ? "&" : "?")}access_token={Uri.EscapeDataString(token)}");
                        return await app.Server.CreateWebSocketClient().ConnectAsync(uri, ct);
                    };
                }
                else
                {
                    o.Transports = HttpTransportType.LongPolling;
                }

                if (cookie is not null)
                {
                    o.Headers["Cookie"] = cookie;
                }

                if (origin is not null)
                {
                    o.Headers["Origin"] = origin;
                }

                if (fetchSite is not null)
                {
                    o.Headers["Sec-Fetch-Site"] = fetchSite;
                }

                if (token is not null)
                {
                    o.AccessTokenProvider = () => Task.FromResult<string?>(token);
                }
            })
            .Build();
        return connection;
    }

    private static async Task<string> LoginCookieAsync(TestApp app, string site)
    {
        var name = "live-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = app.Admin();
        (await admin.PostAsJsonAsync("/api/users", new { name, password = "live dashboard pass", sites = new[] { site } })).EnsureSuccessStatusCode();
        using var client = app.CreateClient();
        using var login = await client.PostAsJsonAsync("/api/login", new { name, password = "live dashboard pass" });
        login.EnsureSuccessStatusCode();
        return login.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
    }

    private static async Task HitsAsync(TestApp app, string site, int count)
    {
        using var client = app.CreateClient();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/p{i % 3}", UriKind.Relative), ct)).EnsureSuccessStatusCode());
    }

    [Fact]
    public async Task SubscribeAnswersTheCurrentCountsAtOnce()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("live");
        await app.CreateSiteAsync(site, timeZone: "Europe/Istanbul");
        await HitsAsync(app, site, 3);
        await using var connection = Connect(app);
        await connection.StartAsync();

        var counts = await connection.InvokeAsync<Counts>("Subscribe", site);

        var expected = await app.CountsAsync(site, days: 30);
        Assert.Equal(site, counts.Site);
        Assert.Equal("Europe/Istanbul", counts.TimeZone);
        Assert.Equal(3, counts.Total);
        Assert.Equal(expected.Days, counts.Days);
        Assert.Equal(expected.Today, counts.Today);
    }

    [Fact]
    public async Task WithTheBackplaneAWatcherOnOneNodeSeesHitsCountedOnAnother()
    {
        // Two nodes on the same Redis with the SignalR backplane, as behind a load balancer.
        await using var two = await TwoNodesWatchedAsync("two", []);
        Assert.Equal(0, two.Subscribed.Total);

        await HitsAsync(two.NodeB, two.Site, 7);

        Assert.Equal(7, (await two.PushesUpToAsync(7)).LastOrDefault()?.Total);
    }

    [Fact]
    public async Task WithTheBackplaneTheNodesTogetherPushASiteAtMostOncePerInterval()
    {
        // Every node's push reaches every watcher through the backplane; without a shared slot two
        // nodes would push twice as often as a site may be pushed.
        await using var two = await TwoNodesWatchedAsync("slot", new() { ["Analytics:Live:MinPushInterval"] = "00:00:01" });

        // Hits on both nodes for four intervals.
        var sent = 0;
        var until = DateTime.UtcNow.AddSeconds(4);
        while (DateTime.UtcNow < until)
        {
            await HitsAsync(two.NodeA, two.Site, 1);
            await HitsAsync(two.NodeB, two.Site, 1);
            sent += 2;
            await Task.Delay(40);
        }

        var pushes = await two.PushesUpToAsync(sent);

        // The last push has every hit; one push per interval of hits and a last one after them.
        Assert.Equal(sent, pushes.LastOrDefault()?.Total);
        Assert.InRange(pushes.Count, 2, 6);
    }

    /// <summary>
    /// Two nodes on this Redis with the backplane, a new site, and a watcher of it on node A. The
    /// backplane's channels are shared by every test on this Redis, so sites are unique here.
    /// </summary>
    private async Task<TwoNodes> TwoNodesWatchedAsync(string prefix, Dictionary<string, string?> settings)
    {
        settings["Analytics:Live:RedisBackplane"] = "true";
        var nodeA = new TestApp(servers, settings);
        var nodeB = new TestApp(servers, settings);
        var site = Servers.NewSiteId(prefix);
        await nodeA.CreateSiteAsync(site);
        _ = nodeB.CreateClient();
        var watcher = Connect(nodeA);
        var pushes = new ConcurrentQueue<Counts>();
        watcher.On<Counts>("counts", pushes.Enqueue);
        await watcher.StartAsync();
        var subscribed = await watcher.InvokeAsync<Counts>("Subscribe", site);
        return new TwoNodes(nodeA, nodeB, site, watcher, pushes, subscribed);
    }

    private sealed record TwoNodes(TestApp NodeA, TestApp NodeB, string Site, HubConnection Watcher, ConcurrentQueue<Counts> Pushes, Counts Subscribed) : IAsyncDisposable
    {
        /// <summary>The pushes received once the last shows <paramref name="total"/> (10 s at most).</summary>
        public async Task<ConcurrentQueue<Counts>> PushesUpToAsync(long total)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Pushes.LastOrDefault()?.Total != total && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            return Pushes;
        }

        public async ValueTask DisposeAsync()
        {
            await Watcher.DisposeAsync();
            await NodeB.DisposeAsync();
            await NodeA.DisposeAsync();
        }
    }

    [Fact]
    public async Task NewHitsArePushedCoalescedToAtMostFourASecond()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("live");
        await app.CreateSiteAsync(site);
        await using var connection = Connect(app);
        var pushes = new ConcurrentQueue<(DateTime At, Counts Counts)>();
        connection.On<Counts>("counts", c => pushes.Enqueue((DateTime.UtcNow, c)));
        await connection.StartAsync();
        Assert.Equal(0, (await connection.InvokeAsync<Counts>("Subscribe", site)).Total);

        // 400 hits in a burst of about two seconds.
        var started = DateTime.UtcNow;
        for (var round = 0; round < 10; round++)
        {
            await HitsAsync(app, site, 40);
            await Task.Delay(200);
        }

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((pushes.IsEmpty || pushes.Last().Counts.Total < 400) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var all = pushes.ToArray();
        Assert.Equal(400, all[^1].Counts.Total);
        Assert.Equal(400, all[^1].Counts.Days[0].Views);
        Assert.True(all.Length >= 2, $"only {all.Length} pushes");
        var seconds = Math.Max(1, (all[^1].At - started).TotalSeconds);
        Assert.True(all.Length <= (seconds * 4) + 2, $"{all.Length} pushes in {seconds:0.0} s");
        // Each push carries absolute counts, so they never go backwards.
        Assert.True(all.Select(p => p.Counts.Total).SequenceEqual(all.Select(p => p.Counts.Total).Order()));
    }

    [Fact]
    public async Task TheSitesLocalMidnightIsPushedWithoutAHit()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:Live:DayCheckInterval"] = "00:00:00.100" });
        var site = Servers.NewSiteId("midnight");
        await app.CreateSiteAsync(site, timeZone: "Asia/Tokyo");
        // 23:59:50 in Tokyo.
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 20, 14, 59, 50, TimeSpan.Zero));
        await HitsAsync(app, site, 2);
        await using var connection = Connect(app);
        var pushes = new ConcurrentQueue<Counts>();
        connection.On<Counts>("counts", c => pushes.Enqueue(c));
        await connection.StartAsync();
        var before = await connection.InvokeAsync<Counts>("Subscribe", site);
        Assert.Equal("2026-11-20", before.Today);
        await Task.Delay(300);

        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 20, 15, 0, 5, TimeSpan.Zero));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!pushes.Any(p => p.Today == "2026-11-21") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var after = pushes.Last();
        Assert.Equal("2026-11-21", after.Today);
        Assert.Equal([0L, 2L], after.Days.Take(2).Select(d => d.Views));
        Assert.Equal(2, after.Total);
    }

    [Fact]
    public async Task PrivateSitesNeedStaffOfThatSite()
    {
        await using var app = new TestApp(servers);
        var siteA = Servers.NewSiteId("a");
        var siteB = Servers.NewSiteId("b");
        await app.CreateSiteAsync(siteA, publicCounter: false);
        await app.CreateSiteAsync(siteB, publicCounter: false);
        var cookie = await LoginCookieAsync(app, siteA);

        await using var anonymous = Connect(app);
        await anonymous.StartAsync();
        var refused = await Assert.ThrowsAsync<HubException>(() => anonymous.InvokeAsync<Counts>("Subscribe", siteA));
        Assert.Contains("Unauthorized", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Unauthorized", (await Assert.ThrowsAsync<HubException>(() => anonymous.InvokeAsync<Counts>("Subscribe", "no-such-site"))).Message, StringComparison.Ordinal);

        // Refusals are answers, not faults: nothing about them at Warning or above.
        Assert.DoesNotContain(app.Logs, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && l.Message.Contains(siteA, StringComparison.Ordinal));
        Assert.DoesNotContain(app.Logs, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Error);

        await using var viewer = Connect(app, cookie: cookie);
        var pages = new ConcurrentQueue<TopPages>();
        viewer.On<TopPages>("pages", p => pages.Enqueue(p));
        await viewer.StartAsync();
        Assert.Equal(siteA, (await viewer.InvokeAsync<Counts>("Subscribe", siteA)).Site);
        var forbidden = await Assert.ThrowsAsync<HubException>(() => viewer.InvokeAsync<Counts>("Subscribe", siteB));
        Assert.Contains("Forbidden", forbidden.Message, StringComparison.Ordinal);

        // Staff also get today's top pages, at once and as hits arrive; B's hits never reach A's watcher.
        await HitsAsync(app, siteB, 5);
        await HitsAsync(app, siteA, 6);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (pages.LastOrDefault()?.Pages.Sum(p => p.Views) != 6 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.All(pages, p => Assert.Equal(siteA, p.Site));
        Assert.Equal(6, pages.Last().Pages.Sum(p => p.Views));
    }

    [Fact]
    public async Task ALiveConnectionClosesWhenItsUserIsDeletedItsTokenRevokedOrItsSiteMadePrivate()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:Live:RecheckInterval"] = "00:00:00.200" });
        var site = Servers.NewSiteId("del");
        await app.CreateSiteAsync(site, publicCounter: false);
        var cookie = await LoginCookieAsync(app, site);
        using var admin = app.Admin();
        var made = await (await admin.PostAsJsonAsync("/api/tokens", new { name = "wall", sites = new[] { site } })).ReadJsonAsync();

        var open = Servers.NewSiteId("pub");
        await app.CreateSiteAsync(open, publicCounter: true);

        await using var viewer = Connect(app, cookie: cookie);
        await using var wall = Connect(app, token: made.GetProperty("token").GetString()!, webSockets: true);
        await using var reader = Connect(app);
        var closed = new ConcurrentDictionary<string, bool>();
        viewer.Closed += _ => Task.FromResult(closed["viewer"] = true);
        wall.Closed += _ => Task.FromResult(closed["wall"] = true);
        reader.Closed += _ => Task.FromResult(closed["reader"] = true);
        await viewer.StartAsync();
        await wall.StartAsync();
        await reader.StartAsync();
        await viewer.InvokeAsync<Counts>("Subscribe", site);
        await wall.InvokeAsync<Counts>("Subscribe", site);
        await reader.InvokeAsync<Counts>("Subscribe", open);

        // Several checks go by: nothing changed, nothing closes.
        await Task.Delay(700);
        Assert.Empty(closed);

        var name = (await (await app.CreateClient(new() { HandleCookies = false }).SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/me") { Headers = { { "Cookie", cookie } } })).ReadJsonAsync()).GetProperty("name").GetString()!;
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/users/{name}", UriKind.Relative))).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/tokens/{made.GetProperty("id").GetString()}", UriKind.Relative))).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"/api/sites/{open}", new { publicCounter = false })).StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (closed.Count < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(closed.ContainsKey("viewer"), "the deleted user's connection is still open");
        Assert.True(closed.ContainsKey("wall"), "the revoked token's connection is still open");
        Assert.True(closed.ContainsKey("reader"), "the anonymous watcher of a site made private is still open");
    }

    [Fact]
    public async Task AStaffCookieFromAnotherOriginIsNotHonouredByTheHub()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("orig");
        await app.CreateSiteAsync(site, publicCounter: false);
        var cookie = await LoginCookieAsync(app, site);

        // A page of another origin (a sibling subdomain, say) whose browser sends the staff cookie along.
        await using var foreign = Connect(app, cookie: cookie, origin: "https://elsewhere.example.com");
        await foreign.StartAsync();
        var refused = await Assert.ThrowsAsync<HubException>(() => foreign.InvokeAsync<Counts>("Subscribe", site));
        Assert.Contains("Unauthorized", refused.Message, StringComparison.Ordinal);

        // Nor is it when the browser sends no Origin, as for a no-cors GET that opens a long poll
        // from a sibling subdomain: the browser still says where the request comes from.
        await using var noCors = Connect(app, cookie: cookie, fetchSite: "same-site");
        await noCors.StartAsync();
        Assert.Contains("Unauthorized", (await Assert.ThrowsAsync<HubException>(() => noCors.InvokeAsync<Counts>("Subscribe", site))).Message, StringComparison.Ordinal);

        // The service's own pages (same host, or same-origin by the browser's word) are.
        await using var own = Connect(app, cookie: cookie, origin: app.Server.BaseAddress.GetLeftPart(UriPartial.Authority));
        await own.StartAsync();
        Assert.Equal(site, (await own.InvokeAsync<Counts>("Subscribe", site)).Site);
        await using var sameOrigin = Connect(app, cookie: cookie, fetchSite: "same-origin");
        await sameOrigin.StartAsync();
        Assert.Equal(site, (await sameOrigin.InvokeAsync<Counts>("Subscribe", site)).Site);
    }

    [Fact]
    public async Task ApiTokenWatchesItsSiteOverWebSockets()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("tok");
        var other = Servers.NewSiteId("tok");
        await app.CreateSiteAsync(site, publicCounter: false);
        await app.CreateSiteAsync(other, publicCounter: false);
        using var admin = app.Admin();
        var token = (await (await admin.PostAsJsonAsync("/api/tokens", new { name = "wall", sites = new[] { site } })).ReadJsonAsync()).GetProperty("token").GetString()!;
        await HitsAsync(app, site, 2);

        await using var connection = Connect(app, token: token, webSockets: true);
        await connection.StartAsync();

        Assert.Equal(2, (await connection.InvokeAsync<Counts>("Subscribe", site)).Total);
        Assert.Contains("Forbidden", (await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync<Counts>("Subscribe", other))).Message, StringComparison.Ordinal);
    }
}
