using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Analytics.Tests.Infrastructure;

namespace Analytics.BrowserTests.Infrastructure;

/// <summary>Page views and staff for the live tests, sent through the service's public APIs.</summary>
internal static class Traffic
{
    public const string Password = "live-test-password";

    /// <summary>A browser's user agent, so no view is taken for a bot.</summary>
    public const string UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36";

    /// <summary>The service's "today" for the site (its local day), as the counts say.</summary>
    public static async Task<DateOnly> TodayAsync(this TestApp app, string site) => RedisCounters.Day(await app.CountsAsync(site));

    /// <summary>
    /// Sends <paramref name="count"/> page views of <paramref name="url"/> through <c>POST /api/event</c>,
    /// as a page's beacon would, from <paramref name="visitor"/> (an IP address, via X-Forwarded-For).
    /// Each is answered only once it is counted in Redis.
    /// </summary>
    public static async Task SendEventsAsync(this TestApp app, string site, string url, int count = 1, string? referrer = null, string visitor = "203.0.113.1")
    {
        using var client = app.CreateClient();
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/event")
            {
                Content = JsonContent.Create(new { site, url, referrer }),
            };
            request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", visitor);
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"/api/event answered {response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            Assert.False(response.Headers.Contains("X-Analytics-Ignored"), "The view was ignored.");
        }
    }

    /// <summary>One page view of a batch: its page, local day (at noon UTC), visitor address and referrer.</summary>
    public sealed record View(string Url, DateOnly Day, string Visitor = "198.51.100.1", string? Referrer = null);

    /// <summary>Sends views through the batch API (<c>POST /api/events</c> with the ingest key), back-filling their days.</summary>
    public static async Task BackfillAsync(this TestApp app, string ingestKey, IEnumerable<View> views)
    {
        using var client = app.WithBearer(ingestKey);
        var body = views.Select(v => new
        {
            url = v.Url,
            referrer = v.Referrer,
            ts = Noon(v.Day) < app.Time.GetUtcNow() ? Noon(v.Day) : app.Time.GetUtcNow(),
            ip = v.Visitor,
            userAgent = UserAgent,
        }).ToList();
        using var response = await client.PostAsJsonAsync("/api/events", body);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"/api/events answered {response.StatusCode}: {answer}");
        Assert.True(body.Count == answer.GetProperty("accepted").GetInt32(), $"Not every view was accepted: {answer}");
    }

    /// <summary>Noon UTC of a day: the same day in every time zone from UTC−11 to UTC+11.</summary>
    private static DateTimeOffset Noon(DateOnly day) => new(day.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);

    /// <summary>Creates a viewer of these sites through the admin API.</summary>
    public static async Task CreateViewerAsync(this TestApp app, string name, params string[] sites)
    {
        using var admin = app.Admin();
        using var response = await admin.PostAsJsonAsync("/api/users", new { name, password = Password, role = "viewer", sites });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Creating {name} answered {response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
