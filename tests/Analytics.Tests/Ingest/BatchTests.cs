using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Analytics.Counting;
using Analytics.Sites;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Ingest;

public sealed class BatchTests(Servers servers)
{
    private static HttpRequestMessage Batch(string key, string body, string mediaType = "application/json", string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = Http.Json(body, mediaType) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return request;
    }

    [Fact]
    public async Task BatchIsCountedAndBadEventsAreListed()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var body = """
            [
              {"url":"https://example.com/a","referrer":"https://google.com/","ip":"192.0.2.1","userAgent":"Mozilla/5.0 Firefox/140.0"},
              {"url":"https://example.com/b","ip":"192.0.2.2","userAgent":"Mozilla/5.0 Firefox/140.0"},
              {"url":"ftp://example.com/c"},
              {"url":"https://example.com/d","userAgent":"Googlebot/2.1"},
              {"referrer":"https://google.com/"},
              {"url":"https://example.com/e","ts":"not a time"},
              {"url":"https://example.com/f\ud800"},
              {"url":"https://example.com/g","ip":19216801},
              {"url":"https://example.com/h","ts":"Nov 20"},
              {"url":"https://example.com/i","ts":"11/20/2026"},
              {"url":"https://example.com/j","ip":"not-an-address"}
            ]
            """;

        using var response = await client.SendAsync(Batch(key, body));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var answer = await response.ReadJsonAsync();
        Assert.Equal(2, answer.GetProperty("accepted").GetInt32());
        var rejected = answer.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()).ToArray();
        Assert.Equal([2, 3, 4, 5, 6, 7, 8, 9, 10], rejected);
        Assert.All(answer.GetProperty("rejected").EnumerateArray(), r => Assert.False(string.IsNullOrEmpty(r.GetProperty("error").GetString())));
        var today = (await app.CountsAsync(site)).Days[0];
        Assert.Equal(2, today.Views);
        Assert.Equal(2, today.Visitors);
    }

    [Fact]
    public async Task NdjsonBatchWithTimestampsBackfillsEarlierDays()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site, timeZone: "Europe/Istanbul");
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        using var client = app.CreateClient();
        var body = string.Join('\n',
            """{"url":"https://example.com/a","ts":"2026-11-24T20:59:59Z"}""",
            """{"url":"https://example.com/a","ts":"2026-11-24T21:00:00Z"}""",
            """{"url":"https://example.com/b","ts":"2026-11-25T10:00:00+03:00"}""",
            """{"url":"https://example.com/c"}""",
            """{"url":"https://example.com/d","ts":"2026-12-30T00:00:00Z"}""",
            """{"url":"https://example.com/e","ts":"2025-01-01T00:00:00Z"}""");

        using var response = await client.SendAsync(Batch(key, body, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var answer = await response.ReadJsonAsync();
        Assert.Equal(4, answer.GetProperty("accepted").GetInt32());
        Assert.Equal([4, 5], answer.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        var counts = await app.CountsAsync(site, days: 3);
        Assert.Equal([1L, 2L, 1L], counts.Days.Select(d => d.Views));
        Assert.Equal(["2026-11-26", "2026-11-25", "2026-11-24"], counts.Days.Select(d => d.Date));
    }

    [Fact]
    public async Task RetriedBatchWithTheSameIdempotencyKeyIsCountedOnce()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var body = JsonSerializer.Serialize(Enumerable.Range(0, 50).Select(i => new { url = $"https://example.com/{i % 7}" }));

        var answers = new List<string>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            using var response = await client.SendAsync(Batch(key, body, idempotencyKey: "import-2026-11-26-part-1"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            answers.Add(await response.Content.ReadAsStringAsync());
        }

        Assert.All(answers, a => Assert.Equal(answers[0], a));
        Assert.Equal(50, (await app.CountsAsync(site)).Total);

        using var other = await client.SendAsync(Batch(key, body, idempotencyKey: "import-2026-11-26-part-2"));
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        Assert.Equal(100, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task ABatchWhoseNodeDiedAfterCountingItIsAnsweredFromRedisOnRetryNotCountedAgain()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site);
        var body = JsonSerializer.Serialize(Enumerable.Range(0, 40).Select(i => new { url = $"https://example.com/{i % 3}" }));

        // What a node does for a batch with an Idempotency-Key up to the moment it is killed: the
        // key marked as being counted, then the counts written together with the batch's answer;
        // the answer it would have stored next, and its 202, never happen.
        var idempotency = RedisKeys.Idempotency(site, "import-7");
        await servers.Redis.GetDatabase().StringSetAsync(idempotency, "", TimeSpan.FromMinutes(10));
        var entry = (await app.Get<SiteStore>().FindAsync(site))!;
        var day = entry.LocalDay(app.Time.GetUtcNow());
        var answer = """{"accepted":40,"rejected":[]}""";
        await app.Get<CounterWriter>().CountAsync(
            [.. Enumerable.Range(0, 40).Select(i => new Hit(site, day, $"/{i % 3}", Hit.DirectReferrer, 0, entry.Site.Generation))],
            (idempotency, answer));
        Assert.Equal(40, (await app.CountsAsync(site)).Total);

        // The client retries, on any node: the answer, at once, and the batch is not counted again.
        using var client = app.CreateClient();
        using var retried = await client.SendAsync(Batch(key, body, idempotencyKey: "import-7"));
        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.Equal("true", retried.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(answer, await retried.Content.ReadAsStringAsync());
        Assert.Equal(40, (await app.CountsAsync(site)).Total);
    }

    [Fact]
    public async Task BatchNeedsTheSitesIngestKey()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        var otherKey = await app.CreateSiteAsync(Servers.NewSiteId());
        using var client = app.CreateClient();
        const string body = """[{"url":"https://example.com/"}]""";

        using var none = await client.PostAsync(new Uri("/api/events", UriKind.Relative), Http.Json(body));
        await Http.AssertProblemAsync(none, HttpStatusCode.Unauthorized);
        using var wrong = await client.SendAsync(Batch("ik_not-a-key", body));
        await Http.AssertProblemAsync(wrong, HttpStatusCode.Unauthorized);
        using var admin = await client.SendAsync(Batch(TestApp.AdminToken, body));
        await Http.AssertProblemAsync(admin, HttpStatusCode.Unauthorized);

        // Another site's key counts for that site, never for this one.
        using var other = await client.SendAsync(Batch(otherKey, body));
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }

    [Theory]
    [InlineData("[{\"url\":\"https://example.com/x\"}]", "application/json")]
    [InlineData("{\"url\":\"https://example.com/x\"}\n", "application/x-ndjson")]
    public async Task BatchWithAByteOrderMarkIsCounted(string body, string mediaType)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        using var response = await client.SendAsync(Batch(key, "\uFEFF" + body, mediaType));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, (await app.CountsAsync(site)).Total);
    }

    [Theory]
    [InlineData("[{\"url\":")]
    [InlineData("{\"url\":\"https://example.com/\"}\n{oops")]
    [InlineData("not json at all")]
    [InlineData("  \n\t\r\n ")]
    public async Task BatchThatDoesNotParseIs400(string body)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        var key = await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        using var response = await client.SendAsync(Batch(key, body));

        await Http.AssertProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.Equal(0, (await app.CountsAsync(site)).Total);
    }
}
