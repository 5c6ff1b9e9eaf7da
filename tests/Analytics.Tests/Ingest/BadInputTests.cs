using System.Net;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Ingest;

/// <summary>Every kind of bad hit gets a problem naming what is wrong, and no count changes.</summary>
public sealed class BadInputTests(Servers servers)
{
    public static TheoryData<string, string, HttpStatusCode, string?> BadBeacons => new()
    {
        { "malformed JSON", """{"site":"SITE","url":""", HttpStatusCode.BadRequest, "body" },
        { "not an object", """["SITE"]""", HttpStatusCode.BadRequest, "body" },
        { "missing site", """{"site":"","url":"https://example.com/"}""", HttpStatusCode.BadRequest, "site" },
        { "missing url", """{"site":"SITE"}""", HttpStatusCode.BadRequest, "url" },
        { "ftp url", """{"site":"SITE","url":"ftp://example.com/file"}""", HttpStatusCode.BadRequest, "url" },
        { "javascript url", """{"site":"SITE","url":"javascript:alert(1)"}""", HttpStatusCode.BadRequest, "url" },
        { "relative url", """{"site":"SITE","url":"/just/a/path"}""", HttpStatusCode.BadRequest, "url" },
        { "url over 2 KiB", "{\"site\":\"SITE\",\"url\":\"https://example.com/" + new string('a', 2100) + "\"}", HttpStatusCode.BadRequest, "url" },
        { "foreign host", """{"site":"SITE","url":"https://evil.example.net/"}""", HttpStatusCode.BadRequest, "url" },
        { "lookalike host", """{"site":"SITE","url":"https://notexample.com/"}""", HttpStatusCode.BadRequest, "url" },
        { "unknown site", """{"site":"no-such-site-anywhere","url":"https://example.com/"}""", HttpStatusCode.NotFound, null },
        { "no site at all", """{"url":"https://example.com/"}""", HttpStatusCode.BadRequest, "site" },
        { "unpaired surrogate in url", """{"site":"SITE","url":"https://example.com/\ud800"}""", HttpStatusCode.BadRequest, "url" },
        { "unpaired surrogate in referrer", """{"site":"SITE","url":"https://example.com/","referrer":"https://a.example/\udc00"}""", HttpStatusCode.BadRequest, "referrer" },
        { "plausible unpaired surrogate", """{"n":"pageview\ud800","u":"https://example.com/","d":"DOMAIN"}""", HttpStatusCode.BadRequest, "n" },
        { "site not a string", """{"site":123,"url":"https://example.com/"}""", HttpStatusCode.BadRequest, "site" },
        { "referrer not a string", """{"site":"SITE","url":"https://example.com/","referrer":123}""", HttpStatusCode.BadRequest, "referrer" },
        { "url an object", """{"site":"SITE","url":{"href":"https://example.com/"}}""", HttpStatusCode.BadRequest, "url" },
        { "plausible url an array", """{"n":"pageview","u":["https://example.com/"],"d":"DOMAIN"}""", HttpStatusCode.BadRequest, "u" },
        { "umami referrer a number", """{"type":"event","payload":{"website":"SITE","hostname":"example.com","url":"/","referrer":1}}""", HttpStatusCode.BadRequest, "payload.referrer" },
        { "umami without url", """{"type":"event","payload":{"website":"SITE","hostname":"example.com"}}""", HttpStatusCode.BadRequest, "url" },
        { "umami unpaired surrogate in url", """{"type":"event","payload":{"website":"SITE","hostname":"example.com","url":"/\ud83d"}}""", HttpStatusCode.BadRequest, "payload.url" },
        { "umami without website", """{"type":"event","payload":{"hostname":"example.com","url":"/"}}""", HttpStatusCode.BadRequest, "website" },
        { "plausible without domain", """{"n":"pageview","u":"https://example.com/"}""", HttpStatusCode.BadRequest, "d" },
        { "plausible foreign url", """{"n":"pageview","u":"https://evil.example.net/","d":"DOMAIN"}""", HttpStatusCode.BadRequest, "u" },
    };

    [Theory]
    [MemberData(nameof(BadBeacons))]
    public async Task BadHitIsRefusedWithAProblemAndCountsNothing(string what, string body, HttpStatusCode status, string? field)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var domain = site + ".example.com";
        await app.CreateSiteAsync(site, domain: "example.com");
        await app.CreateSiteAsync(site + "-p", domain: domain);
        using var client = app.CreateClient();
        var path = what.StartsWith("umami", StringComparison.Ordinal) ? "/api/send" : "/api/event";

        using var response = await client.PostAsync(new Uri(path, UriKind.Relative),
            Http.Json(body.Replace("SITE", site, StringComparison.Ordinal).Replace("DOMAIN", domain, StringComparison.Ordinal)));

        await Http.AssertProblemAsync(response, status, field);
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
        Assert.Equal(0, (await app.CountsAsync(site + "-p")).Total);
    }

    [Theory]
    [InlineData("/api/event")]
    [InlineData("/api/send")]
    [InlineData("/api/events")]
    public async Task BodyThatIsNotUtf8IsRefused(string path)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site, domain: "example.com");
        using var client = app.CreateClient();
        var json = path == "/api/send"
            ? $$$"""{"type":"event","payload":{"website":"{{{site}}}","hostname":"example.com","url":"/BAD"}}"""
            : $$$"""{"site":"{{{site}}}","url":"https://example.com/BAD"}""";
        // Latin-1 turns U+00FF into the single byte 0xFF, which UTF-8 never uses.
        using var content = new ByteArrayContent(System.Text.Encoding.Latin1.GetBytes(json.Replace("BAD", "\u00FF", StringComparison.Ordinal)));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Authorization = new("Bearer", key);

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        await Http.AssertProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }

    [Theory]
    [InlineData("s=&u=https://example.com/", HttpStatusCode.BadRequest, "s")]
    [InlineData("s=SITE", HttpStatusCode.BadRequest, "u")]
    [InlineData("s=SITE&u=mailto:someone@example.com", HttpStatusCode.BadRequest, "u")]
    [InlineData("s=SITE&u=https://other.example.net/", HttpStatusCode.BadRequest, "u")]
    [InlineData("s=nobody-has-this-site&u=https://example.com/", HttpStatusCode.NotFound, null)]
    public async Task BadPixelIsRefusedWithAProblemAndCountsNothing(string query, HttpStatusCode status, string? field)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri("/p.gif?" + query.Replace("SITE", site, StringComparison.Ordinal), UriKind.Relative));

        await Http.AssertProblemAsync(response, status, field);
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task BodyOver64KiBIsTooLarge()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var padding = new string('x', 65 * 1024);

        using var response = await client.PostAsync(new Uri("/api/event", UriKind.Relative),
            Http.Json($$"""{"site":"{{site}}","url":"https://example.com/","referrer":"{{padding}}"}"""));

        await Http.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task ClientOverTheRateLimitGets429AndOnlyAllowedHitsCount()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:Ingest:ClientRateLimit"] = "5" });
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.7");

        // A burst of 40 at once: 5 pass, the rest are refused (a token or two may come back if the
        // machine is slow); whatever passed is counted, and only that.
        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative))));
        foreach (var refused in responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests))
        {
            await Http.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests);
            Assert.True(refused.Headers.Contains("Retry-After"));
        }

        var allowed = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(40, allowed + responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.InRange(allowed, 5, 20);
        Assert.Equal(allowed, (await app.CountsAsync(site)).Total);

        // Another client is not held back by the first one's limit.
        using var other = app.CreateClient();
        other.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.8");
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative))).StatusCode);
    }
}
