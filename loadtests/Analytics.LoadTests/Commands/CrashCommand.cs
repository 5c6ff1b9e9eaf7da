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
        var kill = new Option<string>("--kill") { Description = "What to kill: the service, or Redis (then started again on its data after --redis-down)", DefaultValueFactory = _ => "service" };
        kill.AcceptOnlyFromAmong("service", "redis");
        var redisDown = new Option<TimeSpan>("--redis-down") { Description = "With --kill redis: how long Redis stays down (the service holds the hits meanwhile)", DefaultValueFactory = _ => TimeSpan.FromSeconds(2) };
        var results = CommonOptions.Results();
        var stack = new StackOptionSet(targetable: false);
        var command = new Command("crash", """
            Crash test: pixel load with the harness's generator; at --kill-at of the duration, kill -9 of the
            service, then the service again on the same port while the load goes on. At the end every hit
            acknowledged (2xx) must be counted in Redis exactly; hits in flight at the kill may or may not be
            (reported apart: acknowledged ≤ counted ≤ acknowledged + in flight). Then a rollup, and ClickHouse
            must equal Redis. Exit code 1 otherwise.
            With --kill redis, Redis is killed instead and started again on its data after --redis-down; the
            service holds the hits meanwhile (and acknowledges them), so every one must be counted, exactly once.
            """)
        {
            duration, connections, rate, sites, pages, killAt, kill, redisDown, results,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var report = await ExecuteAsync(parse.GetValue(duration), parse.GetValue(connections), parse.GetValue(rate), parse.GetValue(sites), parse.GetValue(pages),
                parse.GetValue(killAt), parse.GetValue(kill) == "redis" ? parse.GetValue(redisDown) : null, stack.Read(parse), parse.GetValue(results), cancellationToken);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    /// <param name="redisDown">Null: kill the service. Otherwise kill Redis, and start it again after this long.</param>
    private static async Task<CrashReport> ExecuteAsync(TimeSpan duration, int connections, double rate, int siteCount, int pages, double killAt, TimeSpan? redisDown,
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

        var victim = redisDown is null ? "the service" : "Redis";
        Console.WriteLine(machine.Describe());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pixel for {duration.TotalSeconds:0} s, {connections} connections, {(rate > 0 ? $"{rate:N0} req/s" : "flat out")}; kill -9 of {victim} at {duration.TotalSeconds * killAt:0.0} s, then {victim} again"));
        using var http = LoadGenerator.CreateClient(stack.BaseAddress, connections);
        var begin = Stopwatch.GetTimestamp();
        var load = LoadGenerator.RunAsync(http, scenario, new LoadSettings(duration, connections, rate) { Label = "crash" }, cancellationToken);

        await Task.Delay(duration * killAt, cancellationToken);
        var killedAt = Stopwatch.GetElapsedTime(begin);
        TimeSpan downtime;
        if (redisDown is { } outage)
        {
            log.WriteLine($"kill -9 of Redis (pid {stack.RedisPid}) at {killedAt.TotalSeconds:0.0} s");
            await stack.KillRedisAsync();
            var down = Stopwatch.GetTimestamp();
            await Task.Delay(outage, cancellationToken);
            await stack.RestartRedisAsync(cancellationToken);
            downtime = Stopwatch.GetElapsedTime(down);
            log.WriteLine($"Redis is back (pid {stack.RedisPid}) after {downtime.TotalSeconds:0.00} s; the service writes what it held");
        }
        else
        {
            log.WriteLine($"kill -9 {stack.Service!.Pid} at {killedAt.TotalSeconds:0.0} s");
            await stack.KillServiceAsync();
            Interlocked.Exchange(ref exitedAt, Stopwatch.GetTimestamp());
            var down = Stopwatch.GetTimestamp();
            await stack.RestartServiceAsync(cancellationToken);
            downtime = Stopwatch.GetElapsedTime(down);
            log.WriteLine($"the service is back (pid {stack.Service.Pid}) after {downtime.TotalSeconds:0.00} s");
        }

        var result = await load;
        if (redisDown is not null)
        {
            // Held hits are written once Redis answers again: wait until nothing is held any more.
            await WaitUntilNothingHeldAsync(http, cancellationToken);
        }

        var summary = LoadSummary.Of(result);
        Console.WriteLine();
        Console.WriteLine(summary.Describe());

        var verifier = new CountVerifier(stack.Redis, stack.ClickHouse);
        var (redis, redisSnapshot) = await verifier.VerifyRedisAsync(result.Expected, cancellationToken);
        var counted = redisSnapshot.Totals.Values.Sum();
        var acknowledged = result.Expected.MustCount;
        var inFlight = result.Expected.UncertainViews;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"acknowledged {acknowledged:N0}; without an answer around the kill (in flight, or refused before the harness saw the exit; each may or may not be counted) {inFlight:N0}; counted {counted:N0} (so {counted - acknowledged:N0} of those were counted); {Interlocked.Read(ref failedWhileDown):N0} requests failed while it was down (not counted); down {downtime.TotalSeconds:0.00} s"));
        Console.WriteLine(redis.Describe());
        var rollup = await Rollups.RollUpAsync(stack.RedisConnection, stack.ClickHouseConnection!, stack.Redis, result.Expected.Sites, TimeSpan.FromSeconds(120), cancellationToken);
        Console.WriteLine(rollup.Describe());
        var (clickHouse, clickHouseVersusRedis, _) = await verifier.VerifyClickHouseAsync(result.Expected, redisSnapshot, cancellationToken);
        Console.WriteLine(clickHouse.Describe());
        Console.WriteLine(clickHouseVersusRedis!.Describe());

        var report = new CrashReport(CommonOptions.CommandLine(), started, machine, duration, connections, summary, killedAt.TotalSeconds, downtime.TotalSeconds,
            acknowledged, inFlight, counted, counted - acknowledged, Interlocked.Read(ref failedWhileDown), redis, rollup, clickHouse, clickHouseVersusRedis);
        Console.WriteLine(report.Passed
            ? $"PASS: every acknowledged hit survived kill -9 of {victim}; none was counted twice."
            : "FAIL: acknowledged hits were lost or hits were counted twice.");
        var (json, markdown) = ResultFiles.Write(resultsDirectory, "crash", report, Markdown(report));
        Console.WriteLine($"results: {json}\n         {markdown}");
        return report;
    }

    /// <summary>Polls <c>/readyz</c> until the service holds no hits (at most a minute).</summary>
    private static async Task WaitUntilNothingHeldAsync(HttpClient http, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            try
            {
                using var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative), cancellationToken);
                using var body = System.Text.Json.JsonDocument.Parse(await ready.Content.ReadAsStringAsync(cancellationToken));
                if (ready.IsSuccessStatusCode && body.RootElement.TryGetProperty("bufferedHits", out var held) && held.GetInt64() == 0)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException)
            {
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException("The service still held hits a minute after Redis came back.");
    }

    private static string Markdown(CrashReport report) => new Markdown()
        .Heading($"crash — {(report.Passed ? "PASS" : "FAIL")}")
        .Paragraph($"{report.Started:yyyy-MM-dd HH:mm:ss zzz} on {report.Machine.Describe()}")
        .Code(report.Command)
        .Table(["", ""], report.Load.Rows().Concat(
        [
            ["kill -9 at / down for", string.Create(CultureInfo.InvariantCulture, $"{report.KilledAtSeconds:0.0} s / {report.DowntimeSeconds:0.00} s")],
            ["acknowledged", Reporting.Markdown.N(report.Acknowledged)],
            ["without an answer around the kill (may or may not be counted)", Reporting.Markdown.N(report.InFlightAtKill)],
            ["counted in Redis", $"{Reporting.Markdown.N(report.Counted)} ({Reporting.Markdown.N(report.CountedOfInFlight)} of those without an answer)"],
            ["failed while down (never reached a server)", Reporting.Markdown.N(report.FailedWhileDown)],
            ["Redis = acknowledged", report.Redis.Verdict()],
            ["rollup", report.Rollup.Describe()],
            ["ClickHouse = acknowledged", report.ClickHouse.Verdict()],
            ["ClickHouse = Redis", report.ClickHouseVersusRedis.Verdict()],
        ]).Select(r => (IReadOnlyList<string>)[r[0], r[1].Replace("\n", "<br>", StringComparison.Ordinal)]))
        .ToString();
}
