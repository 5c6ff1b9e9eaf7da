using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Analytics.Rollup;
using Analytics.Tests.Infrastructure;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace Analytics.Tests.Telemetry;

[CollectionDefinition(nameof(TelemetryCollection), DisableParallelization = true)]
public sealed class TelemetryCollection;

/// <summary>Runs alone: metric values are compared exactly, and other hosts' meters would add to them.</summary>
[Collection(nameof(TelemetryCollection))]
public sealed partial class TelemetryTests(Servers servers)
{
    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient client)
    {
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var series = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var key = Regex.Replace(line[..space], @"otel_scope_name=""[^""]*"",otel_scope_version=""[^""]*"",?", "").Replace("{}", "", StringComparison.Ordinal);
            series[key] = series.GetValueOrDefault(key) + double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return series;
    }

    private static double Value(Dictionary<string, double> scrape, string key) => scrape.GetValueOrDefault(key);

    [Fact]
    public async Task HitMetricsMoveByExactlyWhatWasSent()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("otel");
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var before = await ScrapeAsync(client);

        for (var i = 0; i < 5; i++)
        {
            (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/{i}", UriKind.Relative))).EnsureSuccessStatusCode();
        }

        using (var bot = new HttpRequestMessage(HttpMethod.Get, $"/p.gif?s={site}&u=https://example.com/"))
        {
            bot.Headers.UserAgent.ParseAdd("Googlebot/2.1");
            (await client.SendAsync(bot)).EnsureSuccessStatusCode();
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site, url = "ftp://x" }))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site = "nope-nope", url = "https://example.com/" }))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json("""{"n":"engagement","u":"https://example.com/","d":"example.com"}""", "text/plain"))).StatusCode);

        var after = await ScrapeAsync(client);
        double Delta(string key) => Value(after, key) - Value(before, key);
        Assert.Equal(5, Delta("""analytics_hits_total{endpoint="pixel",outcome="counted"}"""));
        Assert.Equal(1, Delta("""analytics_hits_total{endpoint="pixel",outcome="bot"}"""));
        Assert.Equal(1, Delta("""analytics_hits_total{endpoint="event",outcome="invalid"}"""));
        Assert.Equal(1, Delta("""analytics_hits_total{endpoint="event",outcome="unknown_site"}"""));
        Assert.Equal(1, Delta("""analytics_hits_total{endpoint="event",outcome="not_pageview"}"""));
        // Every counted hit went through a group commit.
        Assert.Equal(5, Delta("analytics_commit_batch_size_sum"));
        Assert.Equal(0, Value(after, "analytics_buffered_hits"));
    }

    [Fact]
    public async Task SeriesExistFromTheStartAndBotsLimitsAndFailedRollupsCountWhereTheyHappen()
    {
        await using var redis = servers.PrivateRedis();
        await redis.StartAsync();
        await using var app = new TestApp(servers, new() { ["Analytics:Ingest:ClientRateLimit"] = "3", ["Analytics:Rollup:Enabled"] = "false" }, redis: redis.ConnectionString);
        var site = Servers.NewSiteId("series");
        var key = await app.CreateSiteAsync(site);
        using var client = app.CreateClient();

        // Before anything happens, at 0: the first failure after a start shows in increase().
        var before = await ScrapeAsync(client);
        foreach (var series in new[]
        {
            """analytics_rollup_runs_total{result="failed"}""", """analytics_rollup_runs_total{result="ok"}""", """analytics_rollup_runs_total{result="skipped"}""",
            "analytics_rollup_rows_total", "analytics_live_pushes_total", "analytics_export_rows_total", "analytics_commit_failures_total",
            """analytics_hits_total{endpoint="pixel",outcome="rate_limited"}""", """analytics_hits_total{endpoint="batch",outcome="bot"}""", """analytics_hits_total{endpoint="send",outcome="unavailable"}""",
        })
        {
            Assert.True(before.TryGetValue(series, out var value) && value == 0, $"{series} is not exported at 0");
        }

        // Pixels past the client's limit count as rate-limited pixels (not "any"), one per 429.
        // Twelve quickly against 3 a second: some are refused however the bucket's refill falls.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add((await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/{i}", UriKind.Relative))).StatusCode);
        }

        var limited = statuses.Count(s => s == HttpStatusCode.TooManyRequests);
        Assert.InRange(limited, 1, 12);

        // A batch's bots count as bots, not as invalid.
        await Task.Delay(TimeSpan.FromSeconds(1.2), TestContext.Current.CancellationToken);
        using var ingest = app.WithBearer(key);
        using var batch = await ingest.PostAsync(new Uri("/api/events", UriKind.Relative), Http.Json(new object[]
        {
            new { url = "https://example.com/a" }, new { url = "https://example.com/b" },
            new { url = "https://example.com/c", userAgent = "Googlebot/2.1" }, new { url = "https://example.com/d", userAgent = "bingbot/2.0" },
            new { url = "https://elsewhere.example.org/" },
        }));
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);

        // A rollup that cannot even take its lock (Redis away) counts as failed, with its duration in seconds.
        await redis.StopAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => app.Get<RollupRunner>().RunAsync());

        var after = await ScrapeAsync(client);
        double Delta(string key) => Value(after, key) - Value(before, key);
        Assert.Equal(limited, Delta("""analytics_hits_total{endpoint="pixel",outcome="rate_limited"}"""));
        Assert.Equal(12 - limited, Delta("""analytics_hits_total{endpoint="pixel",outcome="counted"}"""));
        Assert.Equal(2, Delta("""analytics_hits_total{endpoint="batch",outcome="counted"}"""));
        Assert.Equal(2, Delta("""analytics_hits_total{endpoint="batch",outcome="bot"}"""));
        Assert.Equal(1, Delta("""analytics_hits_total{endpoint="batch",outcome="invalid"}"""));
        Assert.Equal(1, Delta("""analytics_rollup_runs_total{result="failed"}"""));
        Assert.Equal(1, Value(after, """analytics_rollup_duration_seconds_bucket{le="60"}"""));
        Assert.True(after.ContainsKey("""analytics_rollup_duration_seconds_bucket{le="0.005"}"""), "the rollup duration's buckets are not in seconds");
        // The pixel, answered ahead of routing, still has its route on the HTTP server's metrics.
        Assert.Contains(after.Keys, k => k.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal) && k.Contains("http_route=\"/p.gif\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryMetricTheBoardsQueryExists()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("board");
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        await using var live = new HubConnectionBuilder()
            .WithUrl(new Uri(app.Server.BaseAddress, "/hubs/live"), o =>
            {
                o.HttpMessageHandlerFactory = _ => app.Server.CreateHandler();
                o.Transports = HttpTransportType.LongPolling;
            })
            .Build();
        var pushed = new TaskCompletionSource();
        live.On<JsonElement>("counts", _ => pushed.TrySetResult());
        await live.StartAsync();
        await live.InvokeAsync<JsonElement>("Subscribe", site);
        (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative))).EnsureSuccessStatusCode();
        await pushed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await app.RollupAsync(site, servers.Redis);
        using var admin = app.Admin();
        await admin.GetStringAsync(new Uri($"/api/sites/{site}/reports/daily", UriKind.Relative));
        var names = (await ScrapeAsync(client)).Keys.Select(k => k.Split('{')[0]).ToHashSet();

        var board = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "dashboards", "grafana", "dashboards", "analytics-service.json")));
        var expressions = board.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
        Assert.NotEmpty(expressions);
        var referenced = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();
        Assert.Contains("analytics_hits_total", referenced);
        Assert.All(referenced, name => Assert.True(names.Contains(name), $"The board queries {name}, which /metrics does not have."));
    }

    [Fact]
    public async Task TheTrafficBoardsQueriesRunOnClickHouse()
    {
        var board = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "dashboards", "grafana", "dashboards", "analytics-traffic.json")));
        var queries = board.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("rawSql").GetString()!)
            .Append(board.RootElement.GetProperty("templating").GetProperty("list")[0].GetProperty("query").GetString()!);

        foreach (var sql in queries)
        {
            var concrete = sql.Replace("${site}", "demo", StringComparison.Ordinal)
                .Replace("$__fromTime", "(now() - INTERVAL 30 DAY)", StringComparison.Ordinal)
                .Replace("$__toTime", "now()", StringComparison.Ordinal);
            using var reader = await servers.ClickHouse.ExecuteReaderAsync(concrete);
            while (await reader.ReadAsync())
            {
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Analytics.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root was not found.");
    }

    [GeneratedRegex(@"\b(analytics|http_server)_[a-z_]+\b")]
    private static partial Regex MetricName();
}
