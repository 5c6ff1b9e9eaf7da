using System.Net;
using Analytics.Counting;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Ingest;

public sealed class PixelTests(Servers servers)
{
    [Fact]
    public async Task PixelAnswersATransparentGifThatIsNotCached()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/gif", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoStore);
        var gif = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.InRange(gif.Length, 1, 43);
        Assert.Equal("GIF89a"u8.ToArray(), gif[..6]);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal(1, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task PixelAnswersHeadWithoutCountingAndRefusesOtherMethods()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var pixel = new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative);
        var ct = TestContext.Current.CancellationToken;

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, pixel), ct);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("image/gif", head.Content.Headers.ContentType?.MediaType);
        Assert.True(head.Headers.CacheControl?.NoStore);

        using var preflight = new HttpRequestMessage(HttpMethod.Options, pixel);
        preflight.Headers.Add("Origin", "https://example.com");
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        using var allowed = await client.SendAsync(preflight, ct);
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("*", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var post = await client.PostAsync(pixel, Http.Json("{}"), ct);
        await Http.AssertProblemAsync(post, HttpStatusCode.MethodNotAllowed);
        Assert.Contains("GET", post.Content.Headers.Allow);

        Assert.Equal(0, (await app.CountsAsync(site)).Total);
        (await client.GetAsync(pixel, ct)).Dispose();
        Assert.Equal(1, (await app.CountsAsync(site)).Total);
    }

    [Theory]
    [InlineData("Europe/Istanbul")]
    [InlineData("America/New_York")]
    [InlineData("Pacific/Kiritimati")]
    [InlineData("UTC")]
    public async Task PixelHitIsCountedOnTheSitesLocalDay(string timeZone)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site, timeZone: timeZone);
        using var client = app.CreateClient();
        var zone = TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        var lastSecond = new DateTime(2026, 11, 20, 23, 59, 59);
        var firstSecond = new DateTime(2026, 11, 21, 0, 0, 1);

        app.Time.SetUtcNow(new DateTimeOffset(lastSecond, zone.GetUtcOffset(lastSecond)));
        (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/late", UriKind.Relative))).EnsureSuccessStatusCode();
        app.Time.SetUtcNow(new DateTimeOffset(firstSecond, zone.GetUtcOffset(firstSecond)));
        (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/early", UriKind.Relative))).EnsureSuccessStatusCode();

        var counts = await app.CountsAsync(site, days: 3);
        Assert.Equal("2026-11-21", counts.Today);
        Assert.Equal(["2026-11-21", "2026-11-20", "2026-11-19"], counts.Days.Select(d => d.Date));
        Assert.Equal([1L, 1L, 0L], counts.Days.Select(d => d.Views));
        Assert.Equal(2, counts.Total);

        var db = servers.Redis.GetDatabase();
        Assert.Equal(1, (long)await db.HashGetAsync(RedisKeys.Pages(site, new DateOnly(2026, 11, 20)), "/late"));
        Assert.Equal(1, (long)await db.HashGetAsync(RedisKeys.Pages(site, new DateOnly(2026, 11, 21)), "/early"));
    }

    [Fact]
    public async Task PixelWithoutUrlCountsTheRefererHeader()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/p.gif?s={site}");
        request.Headers.Referrer = new Uri("https://example.com/from-referer?utm=1#top");

        (await client.SendAsync(request)).EnsureSuccessStatusCode();

        var counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        var day = DateOnly.Parse(counts.Today, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(1, (long)await servers.Redis.GetDatabase().HashGetAsync(RedisKeys.Pages(site, day), "/from-referer"));

        // A Referer that cannot be the page is refused naming that header, not the u that was not sent.
        foreach (var bad in new[] { "https://example.com/" + new string('a', 2100), "https://elsewhere.example/" })
        {
            using var refused = new HttpRequestMessage(HttpMethod.Get, $"/p.gif?s={site}");
            refused.Headers.Referrer = new Uri(bad);
            await Http.AssertProblemAsync(await client.SendAsync(refused), HttpStatusCode.BadRequest, "Referer");
        }

        Assert.Equal(1, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task PathsAreNormalisedAndReferrersCountedByHost()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site, queryParameters: ["id"]);
        using var client = app.CreateClient();
        string[] urls =
        [
            "https://EXAMPLE.com/news?id=7&utm_source=x#comments",
            "https://www.example.com/news?utm_source=y&id=7",
            "https://blog.example.com/news?id=8",
            "https://example.com/caf%C3%A9",
        ];
        string[] referrers = ["https://www.google.com/search?q=a", "https://google.com/", "", "https://example.com/home"];
        for (var i = 0; i < urls.Length; i++)
        {
            (await client.GetAsync(new Uri($"/p.gif?s={site}&u={Uri.EscapeDataString(urls[i])}&r={Uri.EscapeDataString(referrers[i])}", UriKind.Relative))).EnsureSuccessStatusCode();
        }

        var day = DateOnly.FromDateTime(app.Time.GetUtcNow().UtcDateTime);
        var db = servers.Redis.GetDatabase();
        var pages = (await db.HashGetAllAsync(RedisKeys.Pages(site, day))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal(new Dictionary<string, long> { ["/news?id=7"] = 2, ["/news?id=8"] = 1, ["/café"] = 1 }, pages);
        var referrersByHost = (await db.HashGetAllAsync(RedisKeys.Referrers(site, day))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal(new Dictionary<string, long> { ["google.com"] = 2, [Hit.DirectReferrer] = 2 }, referrersByHost);
    }

    [Fact]
    public async Task VisitorsAreCountedOncePerAddressAndBrowser()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        async Task HitAsync(string ip, string userAgent)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/p.gif?s={site}&u=https://example.com/");
            request.Headers.Add("X-Forwarded-For", ip);
            request.Headers.UserAgent.ParseAdd(userAgent);
            (await client.SendAsync(request)).EnsureSuccessStatusCode();
        }

        for (var i = 0; i < 3; i++)
        {
            await HitAsync("203.0.113.1", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
        }

        await HitAsync("203.0.113.2", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
        await HitAsync("203.0.113.1", "Mozilla/5.0 (Macintosh) Safari/18.0");

        var today = (await app.CountsAsync(site)).Days[0];
        Assert.Equal(5, today.Views);
        Assert.Equal(3, today.Visitors);
        var keys = servers.Redis.GetServers()[0].Keys(pattern: $"a:{{{site}}}:*").Select(k => k.ToString()).ToList();
        Assert.DoesNotContain(keys, k => k.Contains("203.0.113", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BotsGetTheGifAndAreNotCounted()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/p.gif?s={site}&u=https://example.com/");
        request.Headers.UserAgent.ParseAdd("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/gif", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bot", response.Headers.GetValues("X-Analytics-Ignored").Single());
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }
}
