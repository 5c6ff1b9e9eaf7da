using System.Collections.Concurrent;
using System.Text;
using Analytics.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Analytics.Tests.Telemetry;

/// <summary>With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, traces, metrics and logs go there, with the service's resource.</summary>
[Collection(nameof(TelemetryCollection))]
public sealed class OtlpExportTests(Servers servers)
{
    [Fact]
    public async Task TracesMetricsAndLogsReachTheOtlpEndpointWithTheResource()
    {
        var (receiver, received) = await StartReceiverAsync();
        await using var _ = receiver;

        await using var app = new TestApp(servers, new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Urls.First(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "300",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
        });
        var site = Servers.NewSiteId("otlp");
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/{i}", UriKind.Relative))).EnsureSuccessStatusCode();
        }

        await app.RollupAsync(site, servers.Redis);
        using var admin = app.Admin();
        (await admin.GetAsync(new Uri($"/api/sites/{site}/reports/daily?by=page", UriKind.Relative))).EnsureSuccessStatusCode();

        string[] wanted =
        [
            // Traces: the service's own spans, the ClickHouse driver's and the Redis instrumentation's.
            "traces:rollup", "traces:report export", "traces:ClickHouse.Driver", "traces:StackExchangeRedis",
            // Metrics: the service's meter (hits) and ASP.NET Core's.
            "metrics:analytics.hits", "metrics:http.server.request.duration",
            // Logs: the rollup says what it wrote.
            "logs:Rolled up",
        ];
        await AssertReceivedAsync(received, wanted, ["traces", "metrics", "logs"]);
    }

    [Fact]
    public async Task TheCommandLinesExportSendsItsTraceAndRowsToo()
    {
        var (receiver, received) = await StartReceiverAsync();
        await using var _ = receiver;
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("otlpcli");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, Enumerable.Range(0, 4).Select(i => ($"https://example.com/{i}", (DateTimeOffset?)null)));
        await app.RollupAsync(site, servers.Redis);

        var export = await Infrastructure.Cli.RunAsync(
            new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Urls.First(), ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf" },
            "export", "--site", site, "--by", "page", "--out", Path.Combine(servers.Root, site + ".csv"), "--redis", servers.RedisConnection, "--clickhouse", servers.ClickHouseConnection);
        export.AssertSucceeded();

        // Flushed as the command ends: its export span, the ClickHouse driver's, and the rows.
        await AssertReceivedAsync(received, ["traces:report export", "traces:ClickHouse.Driver", "metrics:analytics.export.rows"], ["traces", "metrics"]);
    }

    /// <summary>An OTLP/HTTP receiver that keeps what it is sent (protobuf; names and values are UTF-8 in it).</summary>
    private static async Task<(WebApplication Receiver, ConcurrentQueue<(string Signal, string Body)> Received)> StartReceiverAsync()
    {
        var received = new ConcurrentQueue<(string Signal, string Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var receiver = builder.Build();
        receiver.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((signal, Encoding.UTF8.GetString(body.ToArray())));
            return Results.Ok();
        });
        await receiver.StartAsync(TestContext.Current.CancellationToken);
        return (receiver, received);
    }

    /// <summary>Waits (20 s at most) for every "signal:text" wanted; each of the signals must carry the resource.</summary>
    private static async Task AssertReceivedAsync(ConcurrentQueue<(string Signal, string Body)> received, string[] wanted, string[] signals)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Missing().Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Empty(Missing());
        // Every signal carries the resource: service name, version and instance.
        foreach (var signal in signals)
        {
            var body = received.First(r => r.Signal == signal).Body;
            Assert.Contains("service.name", body, StringComparison.Ordinal);
            Assert.Contains("analytics", body, StringComparison.Ordinal);
            Assert.Contains("service.version", body, StringComparison.Ordinal);
            Assert.Contains("service.instance.id", body, StringComparison.Ordinal);
        }

        List<string> Missing() => [.. wanted.Where(w =>
        {
            var (signal, text) = (w[..w.IndexOf(':', StringComparison.Ordinal)], w[(w.IndexOf(':', StringComparison.Ordinal) + 1)..]);
            return !received.Any(r => r.Signal == signal && r.Body.Contains(text, StringComparison.Ordinal));
        })];
    }
}
