using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Analytics.LoadTests.Load;
using Analytics.LoadTests.Reporting;
using Analytics.LoadTests.Stack;
using Analytics.LoadTests.Verification;

namespace Analytics.LoadTests.Commands;

/// <summary>The outcome of <c>crash</c>.</summary>
internal sealed record CrashReport(
    string Command,
    DateTimeOffset Started,
    MachineInfo Machine,
    TimeSpan Duration,
    int Connections,
    LoadSummary Load,
    double KilledAtSeconds,
    double DowntimeSeconds,
    long Acknowledged,
    long InFlightAtKill,
    long Counted,
    long CountedOfInFlight,
    long FailedWhileDown,
    VerificationResult Redis,
    RollupRun Rollup,
    VerificationResult ClickHouse,
    VerificationResult ClickHouseVersusRedis)
{
    public bool Passed => Redis.Passed && ClickHouse.Passed && ClickHouseVersusRedis.Passed;
}

/// <summary>
/// <c>crash</c>: pixel load; halfway, kill -9 of the service and a new one on the same port while
/// the load goes on. Every hit acknowledged before or after must be in Redis; hits in flight at the
/// kill may or may not be (counted ≥ acknowledged, ≤ acknowledged + in flight).
/// </summary>
internal static class CrashCommand
{
    public static Command Create()
    {
        var duration = CommonOptions.Duration(TimeSpan.FromSeconds(20));
        var connections = CommonOptions.Connections();
        var rate = CommonOptions.Rate();
        var sites = CommonOptions.Sites();
        var pages = CommonOptions.Pages();
        var killAt = new Option<double>("--kill-at") { Description = "When to kill, as a fraction of the duration", DefaultValueFactory = _ => 0.5 };
        var results = CommonOptions.Results();
        var stack = new StackOptionSet(targetable: false);
        var command = new Command("crash", """
            Crash test: pixel load with the harness's generator; at --kill-at of the duration, kill -9 of the
            service, then the service again on the same port while the load goes on. At the end every hit
            acknowledged (2xx) must be counted in Redis exactly; hits in flight at the kill may or may not be
            (reported apart: acknowledged ≤ counted ≤ acknowledged + in flight). Then a rollup, and ClickHouse
            must equal Redis. Exit code 1 otherwise.
            """)
        {
            duration, connections, rate, sites, pages, killAt, results,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var report = await ExecuteAsync(parse.GetValue(duration), parse.GetValue(connections), parse.GetValue(rate), parse.GetValue(sites), parse.GetValue(pages),
                parse.GetValue(killAt), stack.Read(parse), parse.GetValue(results), cancellationToken);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    private static async Task<CrashReport> ExecuteAsync(TimeSpan duration, int connections, double rate, int siteCount, int pages, double killAt,
        StackOptions stackOptions, string? resultsDirectory, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.Now;
        var machine = MachineInfo.Current();
        var log = Console.Error;
        await using var stack = await LoadStack.StartAsync(stackOptions, log, cancellationToken);
        var sites = await AdminApi.CreateSitesAsync(stack.BaseAddress, stack.AdminToken, AdminApi.NewRunPrefix("crash"), siteCount, utcOnly: false, publicCounter: false, cancellationToken);
        var scenario = new PixelScenario(new LoadCatalog(sites, pages, 1));

        // A request that failed after the old process was gone never reached it, and the new one would have answered it.
        var exitedAt = long.MaxValue;
        long failedWhileDown = 0;
        scenario.MayHaveCounted = failure =>
        {
            if (failure.Status == 0 && failure.StartedAt >= Interlocked.Read(ref exitedAt))
            {
                Interlocked.Increment(ref failedWhileDown);
                return false;
            }

            return true;
        };

        Console.WriteLine(machine.Describe());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pixel for {duration.TotalSeconds:0} s, {connections} connections, {(rate > 0 ? $"{rate:N0} req/s" : "flat out")}; kill -9 of the service at {duration.TotalSeconds * killAt:0.0} s, then a new one on the same port"));
        using var http = LoadGenerator.CreateClient(stack.BaseAddress, connections);
        var begin = Stopwatch.GetTimestamp();
        var load = LoadGenerator.RunAsync(http, scenario, new LoadSettings(duration, connections, rate) { Label = "crash" }, cancellationToken);

        await Task.Delay(duration * killAt, cancellationToken);
        var killedAt = Stopwatch.GetElapsedTime(begin);
        log.WriteLine($"kill -9 {stack.Service!.Pid} at {killedAt.TotalSeconds:0.0} s");
        await stack.KillServiceAsync();
        Interlocked.Exchange(ref exitedAt, Stopwatch.GetTimestamp());
        var down = Stopwatch.GetTimestamp();
        await stack.RestartServiceAsync(cancellationToken);
        var downtime = Stopwatch.GetElapsedTime(down);
        log.WriteLine($"the service is back (pid {stack.Service.Pid}) after {downtime.TotalSeconds:0.00} s");

        var result = await load;
        var summary = LoadSummary.Of(result);
        Console.WriteLine();
        Console.WriteLine(summary.Describe());

        var verifier = new CountVerifier(stack.Redis, stack.ClickHouse);
        var (redis, redisSnapshot) = await verifier.VerifyRedisAsync(result.Expected, cancellationToken);
        var counted = redisSnapshot.Totals.Values.Sum();
        var acknowledged = result.Expected.MustCount;
        var inFlight = result.Expected.UncertainViews;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"acknowledged {acknowledged:N0}; in flight at the kill {inFlight:N0}; counted {counted:N0} (so {counted - acknowledged:N0} of those in flight were counted); {Interlocked.Read(ref failedWhileDown):N0} requests failed while it was down (not counted); down {downtime.TotalSeconds:0.00} s"));
        Console.WriteLine(redis.Describe());
        var rollup = await Rollups.RollUpAsync(stack.RedisConnection, stack.ClickHouseConnection!, stack.Redis, result.Expected.Sites, TimeSpan.FromSeconds(120), cancellationToken);
        var (clickHouse, clickHouseVersusRedis, _) = await verifier.VerifyClickHouseAsync(result.Expected, redisSnapshot, cancellationToken);
        Console.WriteLine(clickHouse.Describe());
        Console.WriteLine(clickHouseVersusRedis!.Describe());

        var report = new CrashReport(CommonOptions.CommandLine(), started, machine, duration, connections, summary, killedAt.TotalSeconds, downtime.TotalSeconds,
            acknowledged, inFlight, counted, counted - acknowledged, Interlocked.Read(ref failedWhileDown), redis, rollup, clickHouse, clickHouseVersusRedis);
        Console.WriteLine(report.Passed
            ? "PASS: every acknowledged hit survived kill -9; none was counted twice."
            : "FAIL: acknowledged hits were lost or hits were counted twice.");
        var (json, markdown) = ResultFiles.Write(resultsDirectory, "crash", report, Markdown(report));
        Console.WriteLine($"results: {json}\n         {markdown}");
        return report;
    }

    private static string Markdown(CrashReport report) => new Markdown()
        .Heading($"crash — {(report.Passed ? "PASS" : "FAIL")}")
        .Paragraph($"{report.Started:yyyy-MM-dd HH:mm:ss zzz} on {report.Machine.Describe()}")
        .Code(report.Command)
        .Table(["", ""], report.Load.Rows().Concat(
        [
            ["kill -9 at / down for", string.Create(CultureInfo.InvariantCulture, $"{report.KilledAtSeconds:0.0} s / {report.DowntimeSeconds:0.00} s")],
            ["acknowledged", Reporting.Markdown.N(report.Acknowledged)],
            ["in flight at the kill", Reporting.Markdown.N(report.InFlightAtKill)],
            ["counted in Redis", $"{Reporting.Markdown.N(report.Counted)} ({Reporting.Markdown.N(report.CountedOfInFlight)} of those in flight)"],
            ["failed while down (never reached a server)", Reporting.Markdown.N(report.FailedWhileDown)],
            ["Redis = acknowledged", report.Redis.Verdict()],
            ["ClickHouse = acknowledged", report.ClickHouse.Verdict()],
            ["ClickHouse = Redis", report.ClickHouseVersusRedis.Verdict()],
        ]).Select(r => (IReadOnlyList<string>)[r[0], r[1].Replace("\n", "<br>", StringComparison.Ordinal)]))
        .ToString();
}
