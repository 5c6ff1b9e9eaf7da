using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Analytics.BrowserTests.Infrastructure;
using Analytics.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Analytics.BrowserTests;

/// <summary>The staff dashboard (<c>/dashboard</c>) in Chromium: sign-in, live counts over /hubs/live, access, reconnects.</summary>
public sealed partial class DashboardTests(Servers servers, Chromium chromium)
{
    /// <summary>How long a live change may take to reach the screen (it normally takes well under a second).</summary>
    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 15_000 };

    [Fact]
    public async Task ViewerSeesTheirSiteAndNewHitsAppearWithoutReload()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        var site = Servers.NewSiteId("dash");
        var key = await app.CreateSiteAsync(site, domain: "shop.example", timeZone: "Europe/Istanbul", publicCounter: false);
        var today = await app.TodayAsync(site);

        // Today: "/" twice and "/pricing" once, by two visitors; earlier days back-filled, one of
        // them beyond the 30 days shown (it counts in the total only).
        var earlier = new Dictionary<int, int> { [1] = 4, [3] = 2, [12] = 6, [29] = 1, [31] = 5 };
        List<Traffic.View> views =
        [
            new("https://shop.example/", today, "198.51.100.1"),
            new("https://shop.example/", today, "198.51.100.2"),
            new("https://shop.example/pricing", today, "198.51.100.1"),
            .. earlier.SelectMany(e => Enumerable.Range(0, e.Value).Select(i => new Traffic.View($"https://shop.example/archive/{i}", today.AddDays(-e.Key)))),
        ];
        await app.BackfillAsync(key, views);
        var total = views.Count;
        Assert.Equal(21, total);

        var viewer = "viewer-" + site;
        await app.CreateViewerAsync(viewer, site);

        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        // The dashboard runs under its Content-Security-Policy: nothing it does may be refused.
        var refused = new ConcurrentQueue<string>();
        tab.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                refused.Enqueue(message.Text);
            }
        };
        await tab.SetViewportSizeAsync(1280, 800);
        await tab.GotoAsync(new Uri(analytics, "/dashboard").AbsoluteUri);

        // Signed out: the sign-in form, nothing else. A wrong password is said so.
        await Expect(tab.Locator("#login")).ToBeVisibleAsync();
        await Expect(tab.Locator("#view")).ToBeHiddenAsync();
        await Chromium.ScreenshotAsync(tab, "dashboard-sign-in");
        await SignInAsync(tab, viewer, "not-the-password");
        await Expect(tab.Locator("#login-error")).ToHaveTextAsync("The name or password is wrong.");
        await SignInAsync(tab, viewer, Traffic.Password);

        await Expect(tab.Locator("#connection-state")).ToHaveTextAsync("live", Soon);
        await Expect(tab.Locator("#user-name")).ToHaveTextAsync($"{viewer} (viewer)");
        await Expect(tab.Locator("#site-picker")).ToHaveValueAsync(site);
        Assert.EndsWith("#site=" + site, tab.Url, StringComparison.Ordinal);

        await Expect(tab.Locator("#today-views")).ToHaveTextAsync("3", Soon);
        await Expect(tab.Locator("#today-visitors")).ToHaveTextAsync("2");
        await Expect(tab.Locator("#today-date")).ToHaveTextAsync(Dmy(today));
        await Expect(tab.Locator("#total")).ToHaveTextAsync("21");
        await Expect(tab.Locator("#month-views")).ToHaveTextAsync("16");
        await Expect(tab.Locator("#time-zone")).ToHaveTextAsync("Europe/Istanbul");
        var perDay = Enumerable.Range(0, 30).ToDictionary(i => today.AddDays(-i), i => i == 0 ? 3 : earlier.GetValueOrDefault(i));
        await Expect(tab.Locator("#days-strip")).ToHaveTextAsync(Strip(today, perDay));
        await Expect(tab.Locator("#top-pages td")).ToHaveTextAsync(["/", "2", "/pricing", "1"]);
        await Expect(tab.Locator("#top-referrers td")).ToHaveTextAsync(["(direct)", "3"]);
        // The chart: a canvas with the 30 days drawn, views and visitors in its legend.
        await Expect(tab.Locator("#chart canvas")).ToBeVisibleAsync();
        await Expect(tab.Locator("#chart .u-legend")).ToContainTextAsync("Views");
        await Expect(tab.Locator("#chart .u-legend")).ToContainTextAsync("Visitors");
        await Expect(tab.Locator("#chart .u-series")).ToHaveCountAsync(3);

        // New hits, sent while the page is open, appear on it without a reload.
        await tab.EvaluateAsync("() => { window.sameDocument = true; }");
        await app.SendEventsAsync(site, "https://shop.example/pricing", 2, referrer: "https://news.example.org/story", visitor: "203.0.113.9");
        await Expect(tab.Locator("#today-views")).ToHaveTextAsync("5", Soon);
        await Expect(tab.Locator("#today-visitors")).ToHaveTextAsync("3", Soon);
        await Expect(tab.Locator("#total")).ToHaveTextAsync("23", Soon);
        perDay[today] = 5;
        await Expect(tab.Locator("#days-strip")).ToHaveTextAsync(Strip(today, perDay), Soon);
        await Expect(tab.Locator("#top-pages td")).ToHaveTextAsync(["/pricing", "3", "/", "2"], new() { Timeout = 15_000 });
        await Expect(tab.Locator("#top-referrers td")).ToHaveTextAsync(["(direct)", "3", "news.example.org", "2"], new() { Timeout = 15_000 });
        Assert.True(await tab.EvaluateAsync<bool>("() => window.sameDocument === true"), "The page was reloaded.");
        await Chromium.ScreenshotAsync(tab, "dashboard-live-1280x800");

        // Exports: the reports API for the last 30 days, downloadable with the session cookie.
        var from = today.AddDays(-29).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var to = today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        foreach (var by in new[] { "day", "page", "referrer" })
        {
            await Expect(tab.Locator("#export-" + by)).ToHaveAttributeAsync("href", $"/api/sites/{site}/reports/daily?from={from}&to={to}&by={by}&format=csv");
        }

        var byDay = await DownloadAsync(tab, "#export-day");
        Assert.StartsWith("date,views,visitors", byDay, StringComparison.Ordinal);
        Assert.Contains($"{to},5,3", byDay, StringComparison.Ordinal);
        Assert.Contains($"{today.AddDays(-12):yyyy-MM-dd},6,1", byDay, StringComparison.Ordinal);
        var byPage = await DownloadAsync(tab, "#export-page");
        Assert.Contains($"{to},/pricing,3", byPage, StringComparison.Ordinal);
        var byReferrer = await DownloadAsync(tab, "#export-referrer");
        Assert.Contains($"{to},news.example.org,2", byReferrer, StringComparison.Ordinal);

        // A phone's width: one column, nothing cut off sideways.
        await tab.SetViewportSizeAsync(390, 844);
        await Expect(tab.Locator("#today-views")).ToBeVisibleAsync();
        // (The chart follows its card's new width on the next frame or so.)
        await tab.WaitForFunctionAsync("() => document.documentElement.scrollWidth <= window.innerWidth && document.querySelector('#chart canvas').getBoundingClientRect().right <= window.innerWidth", null, new() { Timeout = 5_000 });
        await Chromium.ScreenshotAsync(tab, "dashboard-live-390-mobile");

        // Signing out ends the session: the form again, and /api/me says 401.
        await tab.Locator("#logout").ClickAsync();
        await Expect(tab.Locator("#login")).ToBeVisibleAsync();
        await Expect(tab.Locator("#view")).ToBeHiddenAsync();
        Assert.Equal(401, await tab.EvaluateAsync<int>("() => fetch('/api/me').then(r => r.status)"));
        // Nothing of this session stays for the next person at this screen: not the site, not the title.
        Assert.Equal("", await tab.EvaluateAsync<string>("() => location.hash"));
        Assert.Equal("Analytics", await tab.TitleAsync());
        Assert.Empty(refused);
    }

    [Fact]
    public async Task ViewerOfOneSiteCannotWatchAnother()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        var mine = Servers.NewSiteId("mine");
        var theirs = Servers.NewSiteId("theirs");
        await app.CreateSiteAsync(mine, domain: "mine.example", publicCounter: false);
        await app.CreateSiteAsync(theirs, domain: "theirs.example", publicCounter: false);
        await app.SendEventsAsync(mine, "https://mine.example/");
        await app.SendEventsAsync(theirs, "https://theirs.example/", 4);
        var viewer = "viewer-" + mine;
        await app.CreateViewerAsync(viewer, mine);

        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        await tab.SetViewportSizeAsync(1280, 800);
        await tab.GotoAsync(new Uri(analytics, "/dashboard#site=" + theirs).AbsoluteUri);
        await SignInAsync(tab, viewer, Traffic.Password);

        // The hub refuses the subscription; the page says so and shows no data of that site.
        await Expect(tab.Locator("#error")).ToHaveTextAsync($"Forbidden: you have no access to site '{theirs}'.", Soon);
        await Expect(tab.Locator("#view")).ToBeHiddenAsync();
        await Expect(tab.Locator("#today-views")).ToHaveTextAsync("");
        await Expect(tab.Locator("#total")).ToHaveTextAsync("");
        await Expect(tab.Locator("#days-strip")).ToHaveTextAsync("");
        await Chromium.ScreenshotAsync(tab, "dashboard-forbidden");

        // The same refusal straight from the hub, with this browser's session, and from REST.
        var refusal = await tab.EvaluateAsync<string>("""
            async site => {
              const connection = new signalR.HubConnectionBuilder().withUrl('/hubs/live').build();
              await connection.start();
              try { await connection.invoke('Subscribe', site); return 'subscribed'; }
              catch (e) { return e.message; }
              finally { await connection.stop(); }
            }
            """, theirs);
        Assert.EndsWith($"HubException: Forbidden: you have no access to site '{theirs}'.", refusal, StringComparison.Ordinal);
        Assert.Equal(403, await tab.EvaluateAsync<int>("site => fetch(`/api/sites/${site}/counts`).then(r => r.status)", theirs));

        // Only the viewer's own site is offered (besides the one in the address), and it works.
        await Expect(tab.Locator("#site-picker option")).ToHaveTextAsync([mine, theirs]);
        await tab.Locator("#site-picker").SelectOptionAsync(mine);
        await Expect(tab.Locator("#today-views")).ToHaveTextAsync("1", Soon);
        await Expect(tab.Locator("#total")).ToHaveTextAsync("1");
        await Expect(tab.Locator("#error")).ToBeHiddenAsync();
        Assert.EndsWith("#site=" + mine, tab.Url, StringComparison.Ordinal);

        // Their hits never reach this page; the viewer's own do.
        await app.SendEventsAsync(theirs, "https://theirs.example/", 3);
        await app.SendEventsAsync(mine, "https://mine.example/");
        await Expect(tab.Locator("#today-views")).ToHaveTextAsync("2", Soon);
        await Expect(tab.Locator("#total")).ToHaveTextAsync("2");
    }

    [Fact]
    public async Task DashboardReconnectsAfterTheServiceRestartsAndMissesNothing()
    {
        var app = new TestApp(servers);
        var stopped = false;
        TestApp? restarted = null;
        try
        {
            var analytics = app.StartOnLoopback();
            var site = Servers.NewSiteId("restart");
            var (context, tab, _) = await WatchAsViewerAsync(app, analytics, site, "restart.example", publicCounter: false, hits: 2);
            await using var owned = context;
            await Expect(tab.Locator("#today-views")).ToHaveTextAsync("2", Soon);
            await tab.EvaluateAsync("() => { window.sameDocument = true; }");

            // Hold the dashboard off until the hits sent while it was away are in: only the
            // snapshot it takes when it is back can then show them.
            await tab.RouteAsync("**/hubs/live/negotiate**", route => route.AbortAsync());
            stopped = true;
            await app.DisposeAsync();
            await Expect(tab.Locator("#connection-state")).ToHaveTextAsync(ReconnectingOrOffline(), Soon);
            await Chromium.ScreenshotAsync(tab, "dashboard-reconnecting");

            restarted = await LiveApp.RestartOnAsync(servers, analytics.Port);
            await restarted.SendEventsAsync(site, "https://restart.example/", 3);
            await Expect(tab.Locator("#today-views")).ToHaveTextAsync("2");
            await Expect(tab.Locator("#connection-state")).ToHaveTextAsync(ReconnectingOrOffline());

            await tab.UnrouteAsync("**/hubs/live/negotiate**");
            await Expect(tab.Locator("#connection-state")).ToHaveTextAsync("live", new() { Timeout = 20_000 });
            await Expect(tab.Locator("#today-views")).ToHaveTextAsync("5", Soon);
            await Expect(tab.Locator("#total")).ToHaveTextAsync("5", Soon);

            // And live again, on the new instance.
            await restarted.SendEventsAsync(site, "https://restart.example/", 1);
            await Expect(tab.Locator("#today-views")).ToHaveTextAsync("6", Soon);
            Assert.True(await tab.EvaluateAsync<bool>("() => window.sameDocument === true"), "The page was reloaded.");
            await Chromium.ScreenshotAsync(tab, "dashboard-after-restart");
        }
        finally
        {
            if (!stopped)
            {
                await app.DisposeAsync();
            }

            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AnEndedSessionShowsTheLoginEvenWhileWatchingAPublicSite()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:Live:RecheckInterval"] = "00:00:00.500" });
        var analytics = app.StartOnLoopback();
        var site = Servers.NewSiteId("pubdash");
        var (context, tab, viewer) = await WatchAsViewerAsync(app, analytics, site, "open.example", publicCounter: true, hits: 2);
        await using var owned = context;
        await Expect(tab.Locator("#total")).ToHaveTextAsync("2", Soon);

        // The user is deleted: the server closes the live connection; its reconnect could still
        // watch this public site anonymously, but the page sees the session is over.
        using var admin = app.Admin();
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/users/{viewer}", UriKind.Relative))).StatusCode);

        await Expect(tab.Locator("#login")).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Expect(tab.Locator("#login-error")).ToHaveTextAsync("Your session has ended; sign in again.");
        await Expect(tab.Locator("#view")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task StaffChangeTheirPasswordFromTheDashboardAndStaySignedIn()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        var site = Servers.NewSiteId("pwdash");
        var (context, tab, viewer) = await WatchAsViewerAsync(app, analytics, site, "pw.example", publicCounter: false, hits: 3);
        await using var owned = context;

        // A wrong current password is said in the dialog and changes nothing.
        await tab.Locator("#password-open").ClickAsync();
        await tab.Locator("#password-current").FillAsync("not the password");
        await tab.Locator("#password-new").FillAsync("a brand new passphrase");
        await tab.Locator("#password-submit").ClickAsync();
        await Expect(tab.Locator("#password-error")).ToHaveTextAsync("currentPassword is not your password.", Soon);
        await Expect(tab.Locator("#password-dialog")).ToBeVisibleAsync();

        await tab.Locator("#password-current").FillAsync(Traffic.Password);
        await tab.Locator("#password-new").FillAsync("a brand new passphrase");
        await tab.Locator("#password-submit").ClickAsync();
        await Expect(tab.Locator("#notice")).ToHaveTextAsync("Your password is changed; your other sessions have ended.", Soon);
        await Expect(tab.Locator("#password-dialog")).ToBeHiddenAsync();

        // Still signed in here (a reload keeps the session), and the new password is the one that works.
        await tab.ReloadAsync();
        await Expect(tab.Locator("#connection-state")).ToHaveTextAsync("live", Soon);
        await Expect(tab.Locator("#total")).ToHaveTextAsync("3", Soon);
        using var client = app.CreateClient();
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await client.PostAsync(new Uri("/api/login", UriKind.Relative),
            Http.Json(new { name = viewer, password = Traffic.Password }))).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.PostAsync(new Uri("/api/login", UriKind.Relative),
            Http.Json(new { name = viewer, password = "a brand new passphrase" }))).StatusCode);
    }

    /// <summary>
    /// A site with <paramref name="hits"/> views and a viewer of it, signed in on the dashboard in a
    /// browser context of its own (the caller disposes it), once the page is live.
    /// </summary>
    private async Task<(IBrowserContext Context, IPage Tab, string Viewer)> WatchAsViewerAsync(TestApp app, Uri analytics, string site, string domain, bool publicCounter, int hits)
    {
        await app.CreateSiteAsync(site, domain: domain, publicCounter: publicCounter);
        await app.SendEventsAsync(site, $"https://{domain}/", hits);
        var viewer = "viewer-" + site;
        await app.CreateViewerAsync(viewer, site);

        var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        await tab.GotoAsync(new Uri(analytics, "/dashboard").AbsoluteUri);
        await SignInAsync(tab, viewer, Traffic.Password);
        await Expect(tab.Locator("#connection-state")).ToHaveTextAsync("live", Soon);
        return (context, tab, viewer);
    }

    private static async Task SignInAsync(IPage tab, string name, string password)
    {
        await tab.Locator("#login-name").FillAsync(name);
        await tab.Locator("#login-password").FillAsync(password);
        await tab.Locator("#login-submit").ClickAsync();
    }

    /// <summary>Fetches an export link's file with the page's session, as a click would download it.</summary>
    private static async Task<string> DownloadAsync(IPage tab, string link) =>
        await tab.EvaluateAsync<string>("selector => fetch(document.querySelector(selector).href).then(r => r.ok ? r.text() : 'HTTP ' + r.status)", link);

    private static string Dmy(DateOnly day) => day.ToString("dd/MM/yyyy", CultureInfo.InvariantCulture);

    /// <summary>The widget's line format, newest first: "26/11/2026 (37) 25/11/2026 (35) …".</summary>
    private static string Strip(DateOnly today, IReadOnlyDictionary<DateOnly, int> views) =>
        string.Join(' ', Enumerable.Range(0, 30).Select(i => today.AddDays(-i)).Select(d => $"{Dmy(d)} ({views.GetValueOrDefault(d).ToString("N0", CultureInfo.GetCultureInfo("en-GB"))})"));

    [GeneratedRegex("^(reconnecting|offline)$")]
    private static partial Regex ReconnectingOrOffline();
}
