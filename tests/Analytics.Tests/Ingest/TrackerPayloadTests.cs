using System.Net;
using System.Net.Http.Json;
using Analytics.Counting;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Ingest;

/// <summary>Our beacon, and the payloads Plausible's and Umami's trackers really send.</summary>
public sealed class TrackerPayloadTests(Servers servers)
{
    private const string Browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36";

    /// <summary>A new site with a domain of its own.</summary>
    private static async Task<(string Site, string Domain)> NewSiteAsync(TestApp app)
    {
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site, domain: site + ".example.org");
        return (site, site + ".example.org");
    }

    /// <summary>A client that says it is a browser, as trackers run in one.</summary>
    private static HttpClient BrowserClient(TestApp app)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.UserAgent.ParseAdd(Browser);
        return client;
    }

    [Fact]
    public async Task BeaconIsAcceptedAndCounted()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        using var response = await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site, url = "https://example.com/a", referrer = "https://news.ycombinator.com/" }));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task PlausiblePageviewsCountAndOtherEventsDoNot()
    {
        await using var app = new TestApp(servers);
        var (site, domain) = await NewSiteAsync(app);
        using var client = BrowserClient(app);

        // As the tracker sends them: text/plain bodies, short field names.
        string[] counted =
        [
            $$"""{"n":"pageview","u":"https://{{domain}}/post/1","d":"{{domain}}","r":"https://duckduckgo.com/","v":26}""",
            $$"""{"name":"pageview","url":"https://{{domain}}/post/2","domain":"{{domain}}","referrer":null}""",
        ];
        string[] notCounted =
        [
            $$"""{"n":"engagement","u":"https://{{domain}}/post/1","d":"{{domain}}","r":null,"sd":80,"e":12034}""",
            $$$"""{"n":"Signup","u":"https://{{{domain}}}/post/1","d":"{{{domain}}}","r":null,"p":{"plan":"pro"}}""",
        ];
        foreach (var body in counted.Concat(notCounted))
        {
            using var response = await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(body, "text/plain"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var counts = await app.CountsAsync(site);
        Assert.Equal(2, counts.Total);
        Assert.Equal(2, counts.Days[0].Views);
    }

    [Fact]
    public async Task PlausibleViewNamingASiteTwiceCountsOnce()
    {
        await using var app = new TestApp(servers);
        var (site, domain) = await NewSiteAsync(app);
        using var client = BrowserClient(app);

        foreach (var d in new[] { $"{domain},{domain}", $"{domain}, www.{domain},{domain.ToUpperInvariant()}" })
        {
            using var response = await client.PostAsync(new Uri("/api/event", UriKind.Relative),
                Http.Json($$"""{"n":"pageview","u":"https://{{domain}}/","d":"{{d}}"}""", "text/plain"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        using var empty = await client.PostAsync(new Uri("/api/event", UriKind.Relative),
            Http.Json($$"""{"n":"pageview","u":"https://{{domain}}/","d":" , "}""", "text/plain"));
        await Http.AssertProblemAsync(empty, HttpStatusCode.BadRequest, "d");
        Assert.Equal(2, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task PlausibleViewForSeveralSitesCountsForEachSiteThePageBelongsTo()
    {
        await using var app = new TestApp(servers);
        var (site, rollup, other) = (Servers.NewSiteId("pl"), Servers.NewSiteId("roll"), Servers.NewSiteId("other"));
        var (domain, rollupDomain, otherDomain) = (site + ".example.org", rollup + ".example.org", other + ".example.org");
        // The site also answers to a domain only it has, by which the tracker names it: the page's
        // own domain is listed by the roll-up too (and a shared domain names the older site).
        var alias = site + ".example.net";
        await app.CreateSiteAsync(other, domain: otherDomain);
        using (var admin = app.Admin())
        {
            using var madeSite = await admin.PostAsJsonAsync("/api/sites", new { id = site, domains = new[] { domain, alias } });
            Assert.Equal(HttpStatusCode.Created, madeSite.StatusCode);
            // A roll-up site lists the domains of the sites it sums.
            using var madeRollup = await admin.PostAsJsonAsync("/api/sites", new { id = rollup, domains = new[] { rollupDomain, domain, otherDomain } });
            Assert.Equal(HttpStatusCode.Created, madeRollup.StatusCode);
        }

        using var client = BrowserClient(app);

        async Task<HttpResponseMessage> SendAsync(string d, string host, string name = "pageview") =>
            await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json($$"""{"n":"{{name}}","u":"https://{{host}}/story","d":"{{d}}","r":null}""", "text/plain"));

        // As Plausible's roll-ups send them; a domain no site tracks is passed over.
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync($"{alias},{rollupDomain}", domain)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync($"{alias},nobody-tracks-this.example,{rollupDomain}", domain)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync($"{alias},{rollupDomain}", domain, name: "engagement")).StatusCode);
        // A named site the page is not of does not count it (the SPEC's host rule), the others do.
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync($"{alias},{rollupDomain}", otherDomain)).StatusCode);

        // No named site takes the page, or the URL is none: refused, counted nowhere.
        await Http.AssertProblemAsync(await SendAsync($"{alias},{otherDomain}", "elsewhere.example"), HttpStatusCode.BadRequest, "u");
        using var notAUrl = await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json($$"""{"n":"pageview","u":"ftp://{{domain}}/x","d":"{{alias}},{{rollupDomain}}"}""", "text/plain"));
        await Http.AssertProblemAsync(notAUrl, HttpStatusCode.BadRequest, "u");
        await Http.AssertProblemAsync(await SendAsync("nobody-tracks-this.example,nor-this.example", domain), HttpStatusCode.NotFound);

        Assert.Equal(2, (await app.CountsAsync(site)).Total);
        Assert.Equal(0, (await app.CountsAsync(other)).Total);
        var rolledUp = await app.CountsAsync(rollup);
        Assert.Equal(3, rolledUp.Total);
        var today = DateOnly.Parse(rolledUp.Today, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(3, (long)await servers.Redis.GetDatabase().HashGetAsync(RedisKeys.Pages(rollup, today), "/story"));
    }

    [Fact]
    public async Task OnlyAViewNamedPageviewCountsInEitherFormat()
    {
        await using var app = new TestApp(servers);
        var (site, domain) = await NewSiteAsync(app);
        using var client = BrowserClient(app);

        // Our beacon carrying an event name, and Plausible's names as its server reads them (exactly).
        (object Body, bool Counted)[] sent =
        [
            (new { site, url = $"https://{domain}/a", n = "engagement" }, false),
            (new { site, url = $"https://{domain}/a", name = "Signup" }, false),
            (new { site, url = $"https://{domain}/a", n = "pageview" }, true),
            (new { n = "Pageview", u = $"https://{domain}/a", d = domain }, false),
            (new { n = "pageview", u = $"https://{domain}/a", d = domain }, true),
        ];
        foreach (var (body, counted) in sent)
        {
            using var response = await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(body));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal(counted ? [] : ["not-a-pageview"], response.Headers.TryGetValues("X-Analytics-Ignored", out var ignored) ? ignored : []);
        }

        // Not counted is still checked: a wrong site or URL is refused as for a view.
        await Http.AssertProblemAsync(await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site = "no-such-site-here", url = $"https://{domain}/a", n = "engagement" })), HttpStatusCode.NotFound);
        await Http.AssertProblemAsync(await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site, url = "https://elsewhere.example/a", n = "engagement" })), HttpStatusCode.BadRequest, "url");
        await Http.AssertProblemAsync(await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site, url = $"https://{domain}/a", n = 5 })), HttpStatusCode.BadRequest, "n");

        Assert.Equal(2, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task PlausibleEventForAnUnknownDomainIsNotFound()
    {
        await using var app = new TestApp(servers);
        using var client = app.CreateClient();

        using var response = await client.PostAsync(new Uri("/api/event", UriKind.Relative),
            Http.Json("""{"n":"pageview","u":"https://nobody-tracks-this.example/","d":"nobody-tracks-this.example","r":null}""", "text/plain"));

        await Http.AssertProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task UmamiPageviewsCountAndNamedEventsAndIdentifyDoNot()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site, domain: "shop.example.com");
        using var client = BrowserClient(app);

        string[] counted =
        [
            $$$"""{"type":"event","payload":{"website":"{{{site}}}","hostname":"shop.example.com","screen":"1920x1080","language":"en-US","title":"Shoes","url":"/shoes?color=red","referrer":"https://www.bing.com/"}}""",
            $$$"""{"type":"event","payload":{"website":"{{{site}}}","hostname":"shop.example.com","url":"/","referrer":""}}""",
        ];
        string[] notCounted =
        [
            $$$$"""{"type":"event","payload":{"website":"{{{{site}}}}","hostname":"shop.example.com","url":"/shoes","name":"add-to-cart","data":{"sku":"A1"}}}""",
            $$$$"""{"type":"identify","payload":{"website":"{{{{site}}}}","hostname":"shop.example.com","url":"/","data":{"userId":"42"}}}""",
        ];
        foreach (var body in counted.Concat(notCounted))
        {
            using var response = await client.PostAsync(new Uri("/api/send", UriKind.Relative), Http.Json(body));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(2, (await app.CountsAsync(site)).Total);
    }

    [Theory]
    [InlineData("/api/event", """{"n":"pageview","u":"https://example.com/","d":"example.com"}""")]
    [InlineData("/api/send", """{"type":"event","payload":{"website":"SITE","hostname":"example.com","url":"/"}}""")]
    public async Task BotsAreAnsweredAndNotCounted(string path, string body)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site, domain: site + ".example.com");
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.UserAgent.ParseAdd("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)");

        using var response = await client.PostAsync(new Uri(path, UriKind.Relative),
            Http.Json(body.Replace("SITE", site, StringComparison.Ordinal).Replace("example.com", site + ".example.com", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("bot", response.Headers.GetValues("X-Analytics-Ignored").Single());
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }
}
