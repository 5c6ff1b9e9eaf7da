using System.Text.Json;
using Analytics.BrowserTests.Infrastructure;
using Analytics.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Analytics.BrowserTests;

/// <summary>
/// Plausible's official tracker (npm <c>@plausible-analytics/tracker</c> 0.4.6, an ES module),
/// running in Chromium on a page of the tracked site and reporting to our Plausible-compatible
/// endpoint on another origin.
/// </summary>
public sealed class PlausibleTrackerTests(Servers servers, Chromium chromium, NodeClients clients)
{
    [Fact]
    public async Task PlausiblesOwnTrackerIsCounted()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var site = Servers.NewSiteId("pl");
        // Not "localhost" itself: the tracker ignores that host unless captureOnLocalhost is set.
        var host = site + ".localhost";
        await app.CreateSiteAsync(site, domain: host);

        var endpoint = new Uri(analytics, "/api/event").AbsoluteUri;
        var page = tracked.Page(host, "/pricing", $$"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>Pricing</title></head>
            <body>
              <h1>Pricing</h1>
              <script type="module">
                import { init, track } from '/vendor/plausible.js';
                init({ domain: '{{host}}', endpoint: '{{endpoint}}' });
                // Resolves with what the tracker hands its callback: {status} once the request is answered.
                window.signup = () => new Promise(resolve => track('Signup', { props: { plan: 'pro' }, callback: resolve }));
              </script>
            </body>
            </html>
            """);

        bool ToEndpoint(IResponse r) => r.Url == endpoint && r.Request.Method == "POST";

        await using var context = await chromium.NewContextAsync();
        // The tracker sends nothing from a browser under automation (navigator.webdriver is true
        // under Playwright) unless window.__plausible is set, the hook Plausible's own tests use.
        await context.AddInitScriptAsync("window.__plausible = true;");
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);

        var pageview = await tab.RunAndWaitForResponseAsync(() => tab.GotoAsync(page.AbsoluteUri), ToEndpoint);

        Assert.Equal(202, pageview.Status);
        Assert.Equal("*", await pageview.HeaderValueAsync("access-control-allow-origin"));
        Assert.StartsWith("text/plain", await pageview.Request.HeaderValueAsync("content-type"), StringComparison.Ordinal);
        using (var sent = JsonDocument.Parse(pageview.Request.PostData!))
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"pageview sent: {sent.RootElement}");
            Assert.Equal("pageview", sent.RootElement.GetProperty("n").GetString());
            Assert.Equal(page.AbsoluteUri, sent.RootElement.GetProperty("u").GetString());
            Assert.Equal(host, sent.RootElement.GetProperty("d").GetString());
        }

        var counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        Assert.Equal(1, counts.ViewsOn(counts.Today));

        // A custom event: answered (and readable across origins, so CORS is right), not a view.
        var callback = default(JsonElement);
        var signup = await tab.RunAndWaitForResponseAsync(async () => callback = await tab.EvaluateAsync<JsonElement>("() => window.signup()"), ToEndpoint);
        TestContext.Current.TestOutputHelper?.WriteLine($"custom event sent: {signup.Request.PostData}, callback: {callback}");
        Assert.Equal(202, signup.Status);
        Assert.Equal("not-a-pageview", await signup.HeaderValueAsync("x-analytics-ignored"));
        Assert.Equal(202, callback.GetProperty("status").GetInt32());

        counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        Assert.Equal(1, counts.ViewsOn(counts.Today));
        Assert.Equal(new Dictionary<string, long> { ["/pricing"] = 1 }, await RedisCounters.PagesAsync(servers, site, RedisCounters.Day(counts)));

        // Switching to another tab: the page loses focus, and the tracker reports the time spent
        // and the scroll depth as an "engagement" event. Playwright keeps every page focused
        // (focus emulation); turned off, the page really loses focus to the other tab.
        var cdp = await context.NewCDPSessionAsync(tab);
        var engagement = await tab.RunAndWaitForResponseAsync(async () =>
        {
            await cdp.SendAsync("Emulation.setFocusEmulationEnabled", new Dictionary<string, object> { ["enabled"] = false });
            var other = await context.NewPageAsync();
            await other.BringToFrontAsync();
        }, ToEndpoint);
        TestContext.Current.TestOutputHelper?.WriteLine($"engagement sent: {engagement.Request.PostData}");
        using (var sent = JsonDocument.Parse(engagement.Request.PostData!))
        {
            Assert.Equal("engagement", sent.RootElement.GetProperty("n").GetString());
        }

        Assert.Equal(202, engagement.Status);
        Assert.Equal("not-a-pageview", await engagement.HeaderValueAsync("x-analytics-ignored"));
        counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        Assert.Equal(1, counts.ViewsOn(counts.Today));
    }
}
