using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Analytics.LoadTests.Load;
using Analytics.LoadTests.Reporting;
using Analytics.LoadTests.Stack;
using Analytics.LoadTests.Verification;
using Analytics.Reads;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace Analytics.LoadTests.Commands;

/// <summary>The outcome of <c>latency</c>: push latency of the watched site under background load.</summary>
internal sealed record LatencyReport(
    string Command,
    DateTimeOffset Started,
    MachineInfo Machine,
    TimeSpan Duration,
    double MaxRate,
    double BackgroundRate,
    LoadSummary Background,
    int Probes,
    int ProbesAcknowledged,
    int Pushes,
    int Missed,
    LatencySummary PushLatency,
    double GoalMs,
    VerificationResult Redis)
{
    public bool GoalMet => PushLatency.P95 <= GoalMs && Missed == 0 && ProbesAcknowledged > 0;

    public bool Passed => GoalMet && Redis.Passed;
}

/// <summary>
/// <c>latency</c>: how soon a hit shows on a live counter. Watches one public site on the hub
/// (<c>Subscribe(site)</c>, then pushed <c>counts</c>), sends it one hit every interval while other
/// sites get background pixel load at about half the service's maximum rate, and measures from
/// sending each hit to the first push whose total includes it.
/// </summary>
internal static class LatencyCommand
{
    public static Command Create()
    {
        var duration = CommonOptions.Duration(TimeSpan.FromSeconds(20));
        var rate = CommonOptions.Rate("Background requests a second; 0 = measure the maximum first (a short flat-out run) and use half");
        var connections = CommonOptions.Connections();
        var sites = CommonOptions.Sites(4);
        var pages = CommonOptions.Pages();
        var interval = new Option<TimeSpan>("--interval") { Description = "Time between hits to the watched site", DefaultValueFactory = _ => TimeSpan.FromMilliseconds(100), CustomParser = CommonOptions.ParseDuration };
        var goal = new Option<double>("--goal") { Description = "Goal for the push latency's p95, in ms", DefaultValueFactory = _ => 500 };
        var results = CommonOptions.Results();
        var stack = new StackOptionSet(targetable: false);
        var command = new Command("latency", """
            Live push latency: subscribe to /hubs/live for one public site, run background pixel load on other
            sites at about half the maximum rate (measured first with a 5 s flat-out run, or --rate), send one
            hit to the watched site every --interval and time it until a pushed "counts" shows the new total.
            Prints p50/p95/p99/max; exit code 1 when p95 is over --goal (500 ms), a hit never shows, or the
            background hits are not all counted in Redis.
            """)
        {
            duration, rate, connections, sites, pages, interval, goal, results,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var report = await ExecuteAsync(parse.GetValue(duration), parse.GetValue(rate), parse.GetValue(connections), parse.GetValue(sites), parse.GetValue(pages),
                parse.GetValue(interval), parse.GetValue(goal), stack.Read(parse), parse.GetValue(results), cancellationToken);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    private static async Task<LatencyReport> ExecuteAsync(TimeSpan duration, double rate, int connections, int siteCount, int pages, TimeSpan interval, double goalMs,
        StackOptions stackOptions, string? resultsDirectory, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.Now;
        var machine = MachineInfo.Current();
        var log = Console.Error;
        await using var stack = await LoadStack.StartAsync(stackOptions, log, cancellationToken);
        var prefix = AdminApi.NewRunPrefix("live");
        var background = await AdminApi.CreateSitesAsync(stack.BaseAddress, stack.AdminToken, prefix, siteCount, utcOnly: false, publicCounter: false, cancellationToken);
        var watched = await AdminApi.CreateSiteAsync(stack.BaseAddress, stack.AdminToken, prefix + "-watched", "Europe/Istanbul", publicCounter: true, cancellationToken);
        var catalog = new LoadCatalog(background, pages, 1);
        var expected = catalog.NewExpected();
        Console.WriteLine(machine.Describe());
        using var http = LoadGenerator.CreateClient(stack.BaseAddress, connections);

        var maxRate = double.NaN;
        if (rate <= 0)
        {
            var probe = await LoadGenerator.RunAsync(http, new PixelScenario(catalog), new LoadSettings(TimeSpan.FromSeconds(5), connections) { Label = "max" }, cancellationToken);
            expected.Add(probe.Expected);
            maxRate = probe.RequestsPerSecond;
            rate = Math.Max(1, Math.Round(maxRate / 2));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"maximum {maxRate:N0} req/s flat out; background at {rate:N0} req/s"));
        }

        var pushes = new List<(long At, long Total)>();
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(stack.BaseAddress, "/hubs/live"), o => o.Transports = HttpTransportType.WebSockets)
            .Build();
        hub.On<SiteCounts>("counts", counts =>
        {
            var at = Stopwatch.GetTimestamp();
            if (counts.Site == watched.Id)
            {
                lock (pushes)
                {
                    pushes.Add((at, counts.Total));
                }
            }
        });
        await hub.StartAsync(cancellationToken);
        var initial = await hub.InvokeAsync<SiteCounts>("Subscribe", watched.Id, cancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"watching {watched.Id} on /hubs/live (total {initial.Total}); a hit every {interval.TotalMilliseconds:0} ms for {duration.TotalSeconds:0} s, background pixel load on {siteCount} other sites"));

        var load = LoadGenerator.RunAsync(http, new PixelScenario(catalog), new LoadSettings(duration, connections, rate) { Label = "background" }, cancellationToken);
        var watchedCatalog = new LoadCatalog([watched], 10, 1);
        var watchedScenario = new PixelScenario(watchedCatalog);
        var watcher = new LoadWorker(0, watchedCatalog);
        var probes = new List<(long SentAt, long Total)>();
        var sent = 0;
        using (var probeHttp = LoadGenerator.CreateClient(stack.BaseAddress, 1))
        using (var timer = new PeriodicTimer(interval))
        {
            var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var total = initial.Total;
            while (Stopwatch.GetTimestamp() < end && await timer.WaitForNextTickAsync(cancellationToken))
            {
                sent++;
                var at = Stopwatch.GetTimestamp();
                var outcome = await watchedScenario.SendAsync(probeHttp, watcher);
                if (outcome.Acknowledged == 1)
                {
                    probes.Add((at, ++total));
                }
            }
        }

        var backgroundResult = await load;
        expected.Add(backgroundResult.Expected);
        var watchedExpected = watchedCatalog.NewExpected();
        watcher.Ledger.CopyTo(watchedExpected, watchedCatalog);
        expected.Add(watchedExpected);

        // The last pushes may still be on their way.
        var lastTotal = probes.Count == 0 ? initial.Total : probes[^1].Total;
        for (var i = 0; i < 30 && lastTotal > LatestTotal(pushes); i++)
        {
            await Task.Delay(100, cancellationToken);
        }

        var (latencies, missed) = Match(probes, pushes);
        Console.WriteLine();
        Console.WriteLine("background " + LoadSummary.Of(backgroundResult).Describe());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"push latency over {probes.Count} hits ({pushes.Count} pushes, {missed} never shown): {latencies.Summary().Describe()}"));
        var (redis, _) = await new CountVerifier(stack.Redis, stack.ClickHouse).VerifyRedisAsync(expected, cancellationToken);
        Console.WriteLine(redis.Describe());

        var report = new LatencyReport(CommonOptions.CommandLine(), started, machine, duration, maxRate, rate, LoadSummary.Of(backgroundResult), sent, probes.Count,
            pushes.Count, missed, latencies.Summary(), goalMs, redis);
        Console.WriteLine(report.GoalMet
            ? string.Create(CultureInfo.InvariantCulture, $"PASS: p95 {report.PushLatency.P95:0} ms ≤ {goalMs:0} ms")
            : string.Create(CultureInfo.InvariantCulture, $"FAIL: p95 {report.PushLatency.P95:0} ms (goal {goalMs:0} ms), {missed} hits never shown"));
        var (json, markdown) = ResultFiles.Write(resultsDirectory, "latency", report, Markdown(report));
        Console.WriteLine($"results: {json}\n         {markdown}");
        return report;
    }

    private static long LatestTotal(List<(long At, long Total)> pushes)
    {
        lock (pushes)
        {
            return pushes.Count == 0 ? long.MinValue : pushes.Max(p => p.Total);
        }
    }

    /// <summary>For each hit: the first push after it was sent whose total includes it.</summary>
    private static (LatencyHistogram Latencies, int Missed) Match(List<(long SentAt, long Total)> probes, List<(long At, long Total)> pushes)
    {
        List<(long At, long Total)> received;
        lock (pushes)
        {
            received = [.. pushes];
        }

        var histogram = new LatencyHistogram();
        var missed = 0;
        foreach (var (sentAt, total) in probes)
        {
            var push = received.FirstOrDefault(p => p.At >= sentAt && p.Total >= total);
            if (push.At == 0)
            {
                missed++;
            }
            else
            {
                histogram.RecordTicks(push.At - sentAt);
            }
        }

        return (histogram, missed);
    }

    private static string Markdown(LatencyReport report) => new Markdown()
        .Heading($"latency — {(report.Passed ? "PASS" : "FAIL")}: push p95 {Reporting.Markdown.N(report.PushLatency.P95, "0")} ms")
        .Paragraph($"{report.Started:yyyy-MM-dd HH:mm:ss zzz} on {report.Machine.Describe()}")
        .Code(report.Command)
        .Table(["", ""], (IEnumerable<IReadOnlyList<string>>)
        [
            ["maximum rate (5 s flat out, the harness's generator)", double.IsNaN(report.MaxRate) ? "not measured (--rate)" : Reporting.Markdown.N(report.MaxRate) + " req/s"],
            ["background rate", Reporting.Markdown.N(report.BackgroundRate) + " req/s asked, " + Reporting.Markdown.N(report.Background.RequestsPerSecond) + " req/s done"],
            ["background latency p50 / p99", string.Create(CultureInfo.InvariantCulture, $"{report.Background.Latency.P50:0.00} / {report.Background.Latency.P99:0.00} ms")],
            ["watched hits (acknowledged)", $"{report.Probes} ({report.ProbesAcknowledged})"],
            ["pushes received", report.Pushes.ToString(CultureInfo.InvariantCulture)],
            ["hits never shown", report.Missed.ToString(CultureInfo.InvariantCulture)],
            ["push latency p50 / p95 / p99 / max", string.Create(CultureInfo.InvariantCulture, $"{report.PushLatency.P50:0} / {report.PushLatency.P95:0} / {report.PushLatency.P99:0} / {report.PushLatency.Max:0} ms (goal p95 ≤ {report.GoalMs:0} ms)")],
            ["Redis = acknowledged", report.Redis.Verdict()],
        ])
        .ToString();
}
