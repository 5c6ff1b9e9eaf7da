using System.Globalization;
using System.Text.RegularExpressions;
using Analytics.BrowserTests.Infrastructure;
using Analytics.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Analytics.BrowserTests;

/// <summary>
/// The embeddable live counter (<c>/widget.js</c>) on a page of another origin, in Chromium:
/// the line, cultures, the Umm al-Qura date, live updates over a plain WebSocket, the periodic
/// refresh when WebSockets are blocked, and silence for sites it may not show.
/// </summary>
public sealed class WidgetTests(Servers servers, Chromium chromium, NodeClients clients)
{
    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 15_000 };

    [Fact]
    public async Task WidgetShowsTheLastFiveDaysAndTheTotalAndStaysLive()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var site = Servers.NewSiteId("wd");
        var host = site + ".localhost";
        var key = await app.CreateSiteAsync(site, domain: host, timeZone: "Asia/Riyadh", publicCounter: true);
        var today = await app.TodayAsync(site);

        // Days back from today → views; the 6th and 9th days back count in the total only.
        var views = new Dictionary<int, int> { [0] = 3, [1] = 5, [3] = 7, [4] = 2, [5] = 9, [8] = 11 };
        await app.BackfillAsync(key, views.SelectMany(v => Enumerable.Range(0, v.Value).Select(i => new Traffic.View($"http://{host}/post/{i}", today.AddDays(-v.Key)))));
        Assert.Equal(37, views.Values.Sum());

        var page = tracked.Page(host, "/", Html(analytics, $"""data-site="{site}" data-days="5" data-culture="en-GB" """));
        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        var sockets = new List<string>();
        var counterFetches = 0;
        tab.WebSocket += (_, ws) => sockets.Add(ws.Url);
        tab.Request += (_, r) => counterFetches += r.Url.Contains("/counts", StringComparison.Ordinal) || r.Url.Contains("/negotiate", StringComparison.Ordinal) ? 1 : 0;
        var warnings = Warnings(tab);
        await tab.GotoAsync(page.AbsoluteUri);

        var counter = tab.Locator(".analytics-counter");
        await Expect(counter).ToHaveTextAsync(Line(today, [3, 5, 0, 7, 2], 37), Soon);
        // Right where the tag stands, inside the paragraph.
        Assert.Equal("analytics-counter", await tab.EvaluateAsync<string>("() => document.querySelector('script[data-site]').nextElementSibling.className"));
        // Each day and the total are isolated for the bidirectional algorithm (a right-to-left
        // culture's parts keep their order on a left-to-right page), the text itself unchanged.
        Assert.Equal(6, await tab.EvaluateAsync<int>("() => document.querySelectorAll('.analytics-counter > bdi').length"));
        Assert.Equal("Total: 37", await tab.EvaluateAsync<string>("() => document.querySelector('.analytics-counter > bdi:last-child').textContent"));
        await Expect(tab.Locator("#visits > .analytics-counter")).ToHaveCountAsync(1);
        // Over a plain WebSocket to the hub: no negotiate, no polling, no cookies.
        Assert.Equal(new[] { new Uri(analytics, "/hubs/live").AbsoluteUri.Replace("http://", "ws://", StringComparison.Ordinal) }, sockets);
        Assert.Equal(0, counterFetches);
        Assert.Empty(await context.CookiesAsync());
        Assert.Empty(await LeakedGlobalsAsync(tab));
        Assert.Empty(warnings);
        await tab.EvaluateAsync("() => { window.sameDocument = true; }");
        await Chromium.ScreenshotAsync(tab, "widget-en-GB");

        // A new hit: the line changes without a reload.
        await app.SendEventsAsync(site, $"http://{host}/post/new", 2);
        await Expect(counter).ToHaveTextAsync(Line(today, [5, 5, 0, 7, 2], 39), Soon);
        Assert.True(await tab.EvaluateAsync<bool>("() => window.sameDocument === true"), "The page was reloaded.");
        Assert.Single(sockets);
        Assert.Equal(0, counterFetches);
        await Chromium.ScreenshotAsync(tab, "widget-en-GB-updated");
    }

    [Fact]
    public async Task CultureFormatsDatesAndThousands()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var site = Servers.NewSiteId("de");
        var host = site + ".localhost";
        var key = await app.CreateSiteAsync(site, domain: host, timeZone: "Europe/Berlin", publicCounter: true);
        var today = await app.TodayAsync(site);
        await app.BackfillAsync(key, Enumerable.Range(0, 1234).Select(i => new Traffic.View($"http://{host}/artikel/{i % 7}", today, $"198.51.{i / 250}.{i % 250}")));
        await app.BackfillAsync(key, Enumerable.Range(0, 1010).Select(i => new Traffic.View($"http://{host}/artikel/{i % 3}", today.AddDays(-2))));

        var page = tracked.Page(host, "/", Html(analytics, $"""data-site="{site}" data-days="3" data-culture="de-DE" """, lang: "de"));
        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        await tab.GotoAsync(page.AbsoluteUri);

        var expected = $"{Dmy(today, "dd.MM.yyyy")} (1.234) {Dmy(today.AddDays(-1), "dd.MM.yyyy")} (0) {Dmy(today.AddDays(-2), "dd.MM.yyyy")} (1.010)   Total: 2.244";
        await Expect(tab.Locator(".analytics-counter")).ToHaveTextAsync(expected, Soon);
        await Chromium.ScreenshotAsync(tab, "widget-de-DE");

        await app.SendEventsAsync(site, $"http://{host}/artikel/1");
        await Expect(tab.Locator(".analytics-counter")).ToHaveTextAsync(expected.Replace("(1.234)", "(1.235)", StringComparison.Ordinal).Replace("2.244", "2.245", StringComparison.Ordinal), Soon);
    }

    [Fact]
    public async Task HijriCalendarShowsTodayInUmmAlQura()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var site = Servers.NewSiteId("hj");
        var host = site + ".localhost";
        var key = await app.CreateSiteAsync(site, domain: host, timeZone: "Asia/Riyadh", publicCounter: true);
        var today = await app.TodayAsync(site);
        await app.BackfillAsync(key, [new($"http://{host}/", today), new($"http://{host}/", today.AddDays(-1))]);

        // The service's today in the Umm al-Qura calendar, by .NET.
        var calendar = new UmAlQuraCalendar();
        var date = today.ToDateTime(TimeOnly.MinValue);
        var (hijriYear, hijriMonth, hijriDay) = (calendar.GetYear(date), calendar.GetMonth(date), calendar.GetDayOfMonth(date));
        TestContext.Current.TestOutputHelper?.WriteLine($"{today:yyyy-MM-dd} is {hijriDay}/{hijriMonth}/{hijriYear} AH (Umm al-Qura)");

        var page = tracked.Page(host, "/", Html(analytics, $"""data-site="{site}" data-days="2" data-culture="en-GB" data-calendar="hijri" """));
        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        await tab.GotoAsync(page.AbsoluteUri);

        var counter = tab.Locator(".analytics-counter");
        await Expect(counter).ToHaveTextAsync(new Regex("^" + Regex.Escape(Line(today, [1, 1], 2)) + "   "), Soon);
        var text = await counter.TextContentAsync();
        TestContext.Current.TestOutputHelper?.WriteLine(text ?? "(none)");
        // "… Total: 2   01/11/2026 · 20 Jumada I 1448 AH": beside today's Gregorian date, its day, month name and year.
        var hijri = Regex.Match(text!, @"   (\d\d/\d\d/\d{4}) · (\d{1,2}) (.+) (\d{4}) AH$");
        Assert.True(hijri.Success, $"No Umm al-Qura date in: {text}");
        Assert.Equal(Dmy(today), hijri.Groups[1].Value);
        Assert.Equal(hijriDay.ToString(CultureInfo.InvariantCulture), hijri.Groups[2].Value);
        Assert.Equal(HijriMonths[hijriMonth - 1], hijri.Groups[3].Value);
        Assert.Equal(hijriYear.ToString(CultureInfo.InvariantCulture), hijri.Groups[4].Value);
        await Chromium.ScreenshotAsync(tab, "widget-hijri");
    }

    [Fact]
    public async Task PrivateOrUnknownSiteRendersNothingAndWarnsOnce()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var hidden = Servers.NewSiteId("priv");
        await app.CreateSiteAsync(hidden, domain: hidden + ".localhost", publicCounter: false);
        await app.SendEventsAsync(hidden, $"http://{hidden}.localhost/");
        var unknown = Servers.NewSiteId("none");

        await using var context = await chromium.NewContextAsync();
        // Over the WebSocket (the hub refuses) and, with WebSockets blocked, over the counts API (401/404).
        foreach (var (site, blocked) in new[] { (hidden, false), (unknown, false), (hidden, true), (unknown, true) })
        {
            var tab = await context.NewPageAsync();
            Chromium.LogConsole(tab);
            if (blocked)
            {
                await BlockWebSocketsAsync(tab);
            }

            var warnings = Warnings(tab);
            var page = tracked.Page(site + ".localhost", "/", Html(analytics, $"""data-site="{site}" data-days="5" data-culture="en-GB" data-refresh="1" """));
            await tab.GotoAsync(page.AbsoluteUri);

            await WaitUntilAsync(() => warnings.Count > 0, $"a console warning for {site} (blocked: {blocked})");
            // One poll period and one socket retry later, still one warning and nothing shown.
            await tab.WaitForTimeoutAsync(1_500);
            Assert.Single(warnings);
            var why = blocked ? (site == hidden ? "HTTP 401" : "HTTP 404") : $"Unauthorized: sign in to watch site '{site}'.";
            Assert.StartsWith($"Analytics counter for site \"{site}\" is off: {why}", warnings[0], StringComparison.Ordinal);
            await Expect(tab.Locator(".analytics-counter")).ToHaveCountAsync(0);
            Assert.Equal("Tracked page. Visits:", (await tab.Locator("#visits").TextContentAsync())!.Trim());
            await tab.CloseAsync();
        }
    }

    [Fact]
    public async Task WithWebSocketsBlockedTheWidgetRefreshesPeriodically()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        await using var tracked = await TrackedSite.StartAsync(clients);
        var site = Servers.NewSiteId("poll");
        var host = site + ".localhost";
        var key = await app.CreateSiteAsync(site, domain: host, publicCounter: true);
        var today = await app.TodayAsync(site);
        await app.BackfillAsync(key, [new($"http://{host}/", today), new($"http://{host}/", today), new($"http://{host}/a", today.AddDays(-2))]);

        var page = tracked.Page(host, "/", Html(analytics, $"""data-site="{site}" data-days="3" data-culture="en-GB" data-refresh="1" """));
        await using var context = await chromium.NewContextAsync();
        var tab = await context.NewPageAsync();
        Chromium.LogConsole(tab);
        var refused = await BlockWebSocketsAsync(tab);
        var fetches = 0;
        tab.Response += (_, r) => fetches += r.Url == new Uri(analytics, $"/api/sites/{site}/counts?days=3").AbsoluteUri && r.Status == 200 ? 1 : 0;
        await tab.GotoAsync(page.AbsoluteUri);

        var counter = tab.Locator(".analytics-counter");
        await Expect(counter).ToHaveTextAsync(Line(today, [2, 0, 1], 3), Soon);
        Assert.True(refused() >= 1, "The widget did not try the WebSocket first.");
        await tab.EvaluateAsync("() => { window.sameDocument = true; }");

        await app.SendEventsAsync(site, $"http://{host}/b", 4);
        await Expect(counter).ToHaveTextAsync(Line(today, [6, 0, 1], 7), Soon);
        Assert.True(fetches >= 2, $"Expected periodic fetches, saw {fetches}.");
        Assert.True(await tab.EvaluateAsync<bool>("() => window.sameDocument === true"), "The page was reloaded.");
        await Chromium.ScreenshotAsync(tab, "widget-polling");
    }

    [Fact]
    public async Task WidgetScriptIsSmallAndServedToAnyOrigin()
    {
        await using var app = new TestApp(servers);
        app.StartOnLoopback();
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/widget.js");
        request.Headers.Add("Origin", "http://elsewhere.example");
        using var response = await client.SendAsync(request);
        var script = await response.Content.ReadAsStringAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/javascript", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        // Our own code, small, without the SignalR library.
        Assert.True(script.Length < 7 * 1024, $"widget.js is {script.Length} bytes.");
        Assert.DoesNotContain("signalR", script, StringComparison.Ordinal);
    }

    /// <summary>Islamic month names in English as ICU (Chromium's Intl) writes them.</summary>
    private static readonly string[] HijriMonths =
        ["Muharram", "Safar", "Rabiʻ I", "Rabiʻ II", "Jumada I", "Jumada II", "Rajab", "Shaʻban", "Ramadan", "Shawwal", "Dhuʻl-Qiʻdah", "Dhuʻl-Hijjah"];

    /// <summary>A page of the tracked site with the widget in a paragraph.</summary>
    private static string Html(Uri analytics, string attributes, string lang = "en") => $$"""
        <!doctype html>
        <html lang="{{lang}}">
        <head><meta charset="utf-8"><title>Tracked page</title>
        <style>body { font: 17px/1.5 Georgia, serif; margin: 40px; color: #222; } .analytics-counter { color: #06c; }</style></head>
        <body>
          <h1>A page with the live counter</h1>
          <p id="visits">Tracked page. Visits: <script src="{{new Uri(analytics, "/widget.js")}}" {{attributes}}></script></p>
          <p>Text after the counter.</p>
        </body>
        </html>
        """;

    private static string Dmy(DateOnly day, string format = "dd/MM/yyyy") => day.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>"19/11/2018 (37) 18/11/2018 (35) …   Total: 144,720", newest first, en-GB.</summary>
    private static string Line(DateOnly today, int[] views, long total) =>
        string.Join(' ', views.Select((v, i) => $"{Dmy(today.AddDays(-i))} ({v.ToString("N0", CultureInfo.GetCultureInfo("en-GB"))})"))
        + "   Total: " + total.ToString("N0", CultureInfo.GetCultureInfo("en-GB"));

    private static List<string> Warnings(IPage tab)
    {
        var warnings = new List<string>();
        tab.Console += (_, m) =>
        {
            if (m.Type == "warning")
            {
                lock (warnings)
                {
                    warnings.Add(m.Text);
                }
            }
        };
        return warnings;
    }

    /// <summary>Refuses every WebSocket to the hub (closes it at once); returns how many were tried so far.</summary>
    private static async Task<Func<int>> BlockWebSocketsAsync(IPage tab)
    {
        var tried = 0;
        await tab.RouteWebSocketAsync(new Regex("/hubs/live"), ws =>
        {
            Interlocked.Increment(ref tried);
            _ = ws.CloseAsync(new() { Code = 1008, Reason = "blocked by the test" });
        });
        return () => Volatile.Read(ref tried);
    }

    /// <summary>Names the widget left on window: compared with a fresh window of the same origin.</summary>
    private static Task<string[]> LeakedGlobalsAsync(IPage tab) => tab.EvaluateAsync<string[]>("""
        () => {
          const frame = document.createElement('iframe');
          document.body.appendChild(frame);
          const fresh = new Set(Object.getOwnPropertyNames(frame.contentWindow));
          const leaked = Object.getOwnPropertyNames(window).filter(n => !fresh.has(n) && !/^\d+$/.test(n));
          frame.remove();
          return leaked;
        }
        """);

    private static async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutMs = 15_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(50);
        }
    }
}
