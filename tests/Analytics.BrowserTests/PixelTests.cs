using Analytics.BrowserTests.Infrastructure;
using Analytics.Counting;
using Analytics.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Analytics.BrowserTests;

/// <summary>The tracking pixel embedded in a page of another origin, loaded by a real Chromium.</summary>
public sealed class PixelTests(Servers servers, Chromium chromium, NodeClients clients)
{
    [Fact]
    public async Task PageWithThePixelIsCountedOnceALoad()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var site = Servers.NewSiteId("px");
        var host = site + ".localhost";
        await app.CreateSiteAsync(site, domain: host);

        // Without u= the service takes the page from the Referer header; the default policy
        // (strict-origin-when-cross-origin) would send only the origin, hence the attribute.
        var pixel = new Uri(analytics, $"/p.gif?s={site}");
        var page = tracked.Page(host, "/news/été-2026", $$"""
            <!doctype html>
            <html lang="fr">
            <head><meta charset="utf-8"><title>Été 2026 — La Gazette</title>
            <style>body { font: 18px/1.5 sans-serif; margin: 40px; } #status { color: #06c; }</style></head>
            <body>
              <h1>La Gazette</h1>
              <h2>Été 2026 : la canicule s'installe</h2>
              <p>An article on the tracked site, at {{host}}, counted by the analytics service at {{analytics.Authority}}.</p>
              <p id="status">Pixel not loaded yet.</p>
              <img id="pixel" src="{{pixel}}" referrerpolicy="no-referrer-when-downgrade" alt=""
                   onload="document.getElementById('status').textContent = 'Pixel answered: ' + this.naturalWidth + '×' + this.naturalHeight + ' GIF'">
            </body>
            </html>
            """, query: "?utm_source=newsletter");

        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        for (var load = 1; load <= 3; load++)
        {
            var hit = await tab.RunAndWaitForResponseAsync(
                async () => Assert.Equal(200, (await tab.GotoAsync(page.AbsoluteUri))!.Status),
                r => r.Url.StartsWith(pixel.AbsoluteUri, StringComparison.Ordinal));

            Assert.Equal(200, hit.Status);
            Assert.Equal("image/gif", await hit.HeaderValueAsync("content-type"));
            Assert.Equal("no-store", await hit.HeaderValueAsync("cache-control"));
            Assert.True((await hit.BodyAsync()).Length <= 43);
            Assert.Equal(page.AbsoluteUri, await hit.Request.HeaderValueAsync("referer"));
            Assert.Equal(1, await tab.EvaluateAsync<int>("() => document.getElementById('pixel').naturalWidth"));
        }

        await Assertions.Expect(tab.Locator("#status")).ToHaveTextAsync("Pixel answered: 1×1 GIF");
        await Chromium.ScreenshotAsync(tab, nameof(PageWithThePixelIsCountedOnceALoad));

        // The GIF is answered only once the view is in Redis, so the counts are there already.
        var counts = await app.CountsAsync(site);
        Assert.Equal(3, counts.Total);
        Assert.Equal(3, counts.ViewsOn(counts.Today));
        Assert.Equal(1, counts.Days.Single(d => d.Date == counts.Today).Visitors);
        var day = RedisCounters.Day(counts);
        Assert.Equal(new Dictionary<string, long> { ["/news/été-2026"] = 3 }, await RedisCounters.PagesAsync(servers, site, day));
        Assert.Equal(new Dictionary<string, long> { [Hit.DirectReferrer] = 3 }, await RedisCounters.ReferrersAsync(servers, site, day));
    }
}
