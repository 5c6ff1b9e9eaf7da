using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Analytics.Counting;
using Analytics.LoadTests.Load;
using Analytics.LoadTests.Reporting;
using Analytics.LoadTests.Stack;
using Analytics.LoadTests.Verification;
using Analytics.LoadTests.Wrk;
using Analytics.LocalStack;

namespace Analytics.LoadTests.Commands;

/// <summary>
/// One wrk run against one target: wrk's numbers, the target's resident memory during and right
/// after it, and the CPU the target and Redis used per request answered (µs).
/// </summary>
internal sealed record CompareRun(int Round, string Target, WrkResult Wrk, long? RssPeakBytes, long? RssAfterBytes, double TargetCpuMicrosPerRequest, double RedisCpuMicrosPerRequest);

/// <summary>The outcome of <c>compare</c>: every run, the ratios to the bare endpoint per round and their medians, and the exactness check of the service's runs.</summary>
internal sealed record CompareReport(
    string Command,
    DateTimeOffset Started,
    MachineInfo Machine,
    string Scenario,
    TimeSpan Duration,
    int Connections,
    int Threads,
    IReadOnlyList<CompareRun> Runs,
    IReadOnlyList<double> ServiceOverBare,
    IReadOnlyList<double> HincrbyOverBare,
    IReadOnlyList<double> FloorOverBare,
    double MedianServiceOverBare,
    double MedianHincrbyOverBare,
    double MedianFloorOverBare,
    string? CountCheck,
    bool CountCheckPassed,
    RollupRun Rollup,
    VerificationResult ClickHouseVersusRedis)
{
    public bool Passed => CountCheckPassed && ClickHouseVersusRedis.Passed;
}

/// <summary>
/// <c>compare</c>: how close the service comes to the ceiling. The same wrk load, in turn, against
/// (a) a bare Kestrel endpoint answering the same GIF, (b) the service with exact counting,
/// (c) a Kestrel endpoint that awaits one Redis HINCRBY per request, and (d) the floor of the
/// service's guarantee, a group commit of one INCRBY per batch (<see cref="FloorTarget"/>); ratios
/// per round and median.
/// </summary>
internal static class CompareCommand
{
    private static readonly string[] Targets = ["bare", "service", "hincrby", "floor"];

    public static Command Create()
    {
        var duration = CommonOptions.Duration(TimeSpan.FromSeconds(15), "How long each wrk run lasts");
        var connections = CommonOptions.Connections();
        var rounds = CommonOptions.AtLeastOne(new Option<int>("--rounds") { Description = "Rounds of (bare, service, hincrby, floor)", DefaultValueFactory = _ => 3 });
        var threads = CommonOptions.AtLeastOne(new Option<int>("--threads", "-t") { Description = "wrk threads", DefaultValueFactory = _ => 1 });
        var warmupOption = new Option<TimeSpan>("--warmup")
        {
            Description = "wrk warm-up of each target before the rounds (JIT, connection pools)",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(3),
            CustomParser = CommonOptions.ParseDuration,
        };
        var scenario = new Option<string>("--scenario", "-s") { Description = "wrk script: pixel (default), beacon, batch or mix (loadtests/wrk/*.lua)", DefaultValueFactory = _ => "pixel" };
        scenario.AcceptOnlyFromAmong(Scenarios.Names);
        var sites = CommonOptions.Sites();
        var pages = CommonOptions.Pages();
        var days = CommonOptions.Days();
        var results = CommonOptions.Results();
        var stack = new StackOptionSet(targetable: false);
        var command = new Command("compare", """
            Measure the ceiling: run the same wrk load (wrk -t1 -c32 -d15s with loadtests/wrk/<scenario>.lua)
            against (a) a bare Kestrel endpoint that answers the same 43-byte GIF, (b) the service with exact
            counting, (c) a Kestrel endpoint awaiting one Redis HINCRBY per request, (d) the floor: a Kestrel
            endpoint that answers after a group commit of one Redis INCRBY per batch, with nothing else to do
            (an upper bound for any design that answers only once Redis has the hit) — in turn, round after
            round. Prints requests/s and latency of each, the ratios to bare per round and their median, and
            the resident memory (VmRSS) of each target during and after its load. Quote ratios, not absolute
            numbers: the machine is shared by wrk, the targets and Redis.
            Then checks the service's counts: the hits counted in Redis must be the requests wrk saw
            answered 2xx (pixel, beacon: one hit each; batch: 100; not for mix, whose answers wrk does
            not tell apart), give or take what wrk abandoned in flight; after a rollup, ClickHouse must
            hold exactly what Redis holds, counter by counter.
            Exit code 1 when a check fails.
            """)
        {
            duration, warmupOption, connections, rounds, threads, scenario, sites, pages, days, results,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var report = await ExecuteAsync(parse.GetValue(scenario)!, parse.GetValue(duration), parse.GetValue(warmupOption), parse.GetValue(connections), parse.GetValue(threads),
                parse.GetValue(rounds), parse.GetValue(sites), parse.GetValue(pages), parse.GetValue(days), stack.Read(parse), parse.GetValue(results), cancellationToken);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    private static async Task<CompareReport> ExecuteAsync(string scenario, TimeSpan duration, TimeSpan warmup, int connections, int threads, int rounds,
        int siteCount, int pages, int days, StackOptions stackOptions, string? resultsDirectory, CancellationToken cancellationToken)
    {
        if (WrkRunner.Find() is null)
        {
            throw new InvalidOperationException("wrk is not installed: apt-get install -y wrk");
        }

        var started = DateTimeOffset.Now;
        var machine = MachineInfo.Current();
        var log = Console.Error;
        await using var stack = await LoadStack.StartAsync(stackOptions, log, cancellationToken);
        var sites = await AdminApi.CreateSitesAsync(stack.BaseAddress, stack.AdminToken, AdminApi.NewRunPrefix("cmp"), siteCount, utcOnly: false, publicCounter: false, cancellationToken);
        string[] scriptArguments = [string.Join(',', sites.Select(s => $"{s.Id}={s.IngestKey}")), pages.ToString(CultureInfo.InvariantCulture), days.ToString(CultureInfo.InvariantCulture)];

        var self = typeof(CompareCommand).Assembly.Location;
        var bareUri = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        await using var bare = ChildProcess.StartDotnet("bare target", self, ["bare-target", "--port", bareUri.Port.ToString(CultureInfo.InvariantCulture)],
            new Dictionary<string, string>(), Path.Combine(stack.DataDirectory!, "bare.log"));
        var hincrbyUri = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        await using var hincrby = ChildProcess.StartDotnet("hincrby target", self, ["hincrby-target", "--port", hincrbyUri.Port.ToString(CultureInfo.InvariantCulture), "--redis", stack.RedisConnection],
            new Dictionary<string, string>(), Path.Combine(stack.DataDirectory!, "hincrby.log"));
        var floorUri = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        await using var floor = ChildProcess.StartDotnet("floor target", self, ["floor-target", "--port", floorUri.Port.ToString(CultureInfo.InvariantCulture), "--redis", stack.RedisConnection],
            new Dictionary<string, string>(), Path.Combine(stack.DataDirectory!, "floor.log"));
        await bare.WaitReadyAsync(bareUri, "/healthz", TimeSpan.FromSeconds(30), cancellationToken);
        await hincrby.WaitReadyAsync(hincrbyUri, "/healthz", TimeSpan.FromSeconds(30), cancellationToken);
        await floor.WaitReadyAsync(floorUri, "/healthz", TimeSpan.FromSeconds(30), cancellationToken);

        var targets = new Dictionary<string, (Uri Uri, ChildProcess Process)>
        {
            ["bare"] = (bareUri, bare),
            ["service"] = (stack.BaseAddress, stack.Service!),
            ["hincrby"] = (hincrbyUri, hincrby),
            ["floor"] = (floorUri, floor),
        };

        Console.WriteLine(machine.Describe());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrk -t{threads} -c{connections} -d{duration.TotalSeconds:0}s --latency -s {Repository.WrkScript(scenario)} URL -- <{siteCount} sites> {pages} {days}; {rounds} rounds of bare, service, hincrby, floor"));
        foreach (var name in Targets)
        {
            log.WriteLine($"warm-up: {name} for {warmup.TotalSeconds:0} s …");
            await WrkRunner.RunAsync(targets[name].Uri, scenario, scriptArguments, threads, connections, warmup, cancellationToken);
        }

        var runs = new List<CompareRun>();
        var hitsPerRequest = scenario switch { "pixel" or "beacon" => 1, "batch" => 100, _ => 0 };
        long serviceCompleted = 0;
        long serviceInFlightAllowance = 0;
        var before = await CountedAsync(stack, sites, cancellationToken);
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var name in Targets)
            {
                var (uri, process) = targets[name];
                var sampler = new MemorySampler(process.ResidentBytes, TimeSpan.FromMilliseconds(250));
                using var stopTicker = new CancellationTokenSource();
                var ticker = TickAsync($"round {round} {name}", process, name == "service" ? () => CountedAsync(stack, sites, CancellationToken.None) : null, stopTicker.Token);
                var (targetCpu, redisCpu) = (process.CpuTime(), RedisCpu(stack));
                WrkResult result;
                try
                {
                    (result, _) = await WrkRunner.RunAsync(uri, scenario, scriptArguments, threads, connections, duration, cancellationToken);
                }
                finally
                {
                    await stopTicker.CancelAsync();
                    await ticker;
                    await sampler.DisposeAsync();
                }

                var answered = Math.Max(1, result.Requests);
                var targetMicros = (process.CpuTime() - targetCpu).TotalMicroseconds / answered;
                var redisMicros = (RedisCpu(stack) - redisCpu).TotalMicroseconds / answered;
                runs.Add(new CompareRun(round, name, result, sampler.Peak, sampler.Last, Math.Round(targetMicros, 1), Math.Round(redisMicros, 1)));
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round} {name,-8} {result.RequestsPerSecond,10:N0} req/s  p50 {result.Percentile("p50"):0.00} ms  p99 {result.Percentile("p99"):0.00} ms  non-2xx {result.Non2xx}  socket errors {result.SocketErrors}  RSS peak {ProcessMemory.Format(sampler.Peak)}  CPU/request {targetMicros:0.0} µs + Redis {redisMicros:0.0} µs"));
                if (name == "service")
                {
                    serviceCompleted += result.Requests - result.Non2xx;
                    serviceInFlightAllowance += connections;
                }
            }
        }

        // wrk stops with requests in flight; give the service a moment to finish them before reading Redis.
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        var counted = await CountedAsync(stack, sites, cancellationToken) - before;
        string? countCheck;
        var countCheckPassed = true;
        if (hitsPerRequest > 0)
        {
            var least = serviceCompleted * hitsPerRequest;
            var most = (serviceCompleted + serviceInFlightAllowance) * hitsPerRequest;
            countCheckPassed = counted >= least && counted <= most;
            countCheck = string.Create(CultureInfo.InvariantCulture,
                $"service counted {counted:N0} hits in Redis for {serviceCompleted:N0} requests wrk saw answered 2xx (×{hitsPerRequest}); allowed {least:N0} … {most:N0} (wrk abandons up to {connections} in flight a run): {(countCheckPassed ? "PASS" : "FAIL")}");
        }
        else
        {
            // wrk says how many requests were answered, not which of the mix's kinds they were.
            countCheck = string.Create(CultureInfo.InvariantCulture,
                $"service counted {counted:N0} hits in Redis; not checked against wrk, which does not tell how many of its answers were batches (run --scenario mix checks every hit of a mix)");
        }

        Console.Error.WriteLine("Rolling the service's counts up into ClickHouse …");
        var verifier = new CountVerifier(stack.Redis, stack.ClickHouse);
        var siteIds = sites.Select(s => s.Id).ToList();
        var rollup = await Rollups.RollUpAsync(stack.RedisConnection, stack.ClickHouseConnection!, stack.Redis, siteIds, TimeSpan.FromSeconds(120), cancellationToken);
        var clickHouseVersusRedis = CountVerifier.CompareStores(await verifier.ReadRedisAsync(siteIds, cancellationToken), await verifier.ReadClickHouseAsync(siteIds, cancellationToken));

        var report = Report(started, machine, scenario, duration, connections, threads, rounds, runs, countCheck, countCheckPassed, rollup, clickHouseVersusRedis);
        Print(report);
        var (json, markdown) = ResultFiles.Write(resultsDirectory, "compare-" + scenario, report, Markdown(report));
        Console.WriteLine($"results: {json}\n         {markdown}");
        return report;
    }

    /// <summary>A progress line a second while wrk runs (wrk prints only at the end): the target's memory, and for the service the hits it counts.</summary>
    private static async Task TickAsync(string label, ChildProcess process, Func<Task<long>>? counted, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var previous = counted is null ? 0 : await counted();
        var previousAt = start;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = Stopwatch.GetTimestamp();
                var line = string.Create(CultureInfo.InvariantCulture, $"[{label} {Stopwatch.GetElapsedTime(start, now).TotalSeconds,3:0}s] RSS {ProcessMemory.Format(process.ResidentBytes())}");
                if (counted is not null)
                {
                    var total = await counted();
                    line += string.Create(CultureInfo.InvariantCulture, $", counting {(total - previous) / Stopwatch.GetElapsedTime(previousAt, now).TotalSeconds,9:N0} hits/s");
                    (previous, previousAt) = (total, now);
                }

                Console.Error.WriteLine(line);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static TimeSpan RedisCpu(LoadStack stack) => stack.RedisPid is { } pid ? ProcessMemory.CpuTime(pid) : TimeSpan.Zero;

    /// <summary>The sites' all-time totals in Redis, added up.</summary>
    private static async Task<long> CountedAsync(LoadStack stack, IReadOnlyList<LoadSite> sites, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var totals = await stack.Redis.GetDatabase().StringGetAsync([.. sites.Select(s => RedisKeys.Total(s.Id))]);
        return totals.Sum(t => (long)t);
    }

    private static CompareReport Report(DateTimeOffset started, MachineInfo machine, string scenario, TimeSpan duration, int connections, int threads, int rounds,
        List<CompareRun> runs, string? countCheck, bool countCheckPassed, RollupRun rollup, VerificationResult clickHouseVersusRedis)
    {
        var serviceOverBare = new List<double>();
        var hincrbyOverBare = new List<double>();
        var floorOverBare = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            double Rps(string target) => runs.Single(r => r.Round == round && r.Target == target).Wrk.RequestsPerSecond;
            serviceOverBare.Add(Rps("service") / Rps("bare"));
            hincrbyOverBare.Add(Rps("hincrby") / Rps("bare"));
            floorOverBare.Add(Rps("floor") / Rps("bare"));
        }

        return new CompareReport(CommonOptions.CommandLine(), started, machine, scenario, duration, connections, threads, runs,
            serviceOverBare, hincrbyOverBare, floorOverBare, Median(serviceOverBare), Median(hincrbyOverBare), Median(floorOverBare), countCheck, countCheckPassed, rollup, clickHouseVersusRedis);
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static IEnumerable<IReadOnlyList<string>> RoundRows(CompareReport report)
    {
        foreach (var round in report.Runs.Select(r => r.Round).Distinct())
        {
            var rps = Targets.Select(t => report.Runs.Single(r => r.Round == round && r.Target == t).Wrk.RequestsPerSecond).ToList();
            yield return [round.ToString(CultureInfo.InvariantCulture), .. rps.Select(v => Reporting.Markdown.N(v)),
                Reporting.Markdown.N(report.ServiceOverBare[round - 1], "0.00"), Reporting.Markdown.N(report.HincrbyOverBare[round - 1], "0.00"),
                Reporting.Markdown.N(report.FloorOverBare[round - 1], "0.00")];
        }

        yield return ["median", "", "", "", "", Reporting.Markdown.N(report.MedianServiceOverBare, "0.00"), Reporting.Markdown.N(report.MedianHincrbyOverBare, "0.00"),
            Reporting.Markdown.N(report.MedianFloorOverBare, "0.00")];
    }

    private static IEnumerable<IReadOnlyList<string>> TargetRows(CompareReport report) =>
        Targets.Select(target =>
        {
            var runs = report.Runs.Where(r => r.Target == target).ToList();
            double MedianOf(Func<CompareRun, double> value) => Median([.. runs.Select(value)]);
            return (IReadOnlyList<string>)[
                target,
                Reporting.Markdown.N(MedianOf(r => r.Wrk.RequestsPerSecond)),
                Reporting.Markdown.N(MedianOf(r => r.Wrk.Percentile("p50")), "0.00"),
                Reporting.Markdown.N(MedianOf(r => r.Wrk.Percentile("p99")), "0.00"),
                Reporting.Markdown.N(runs.Max(r => r.Wrk.LatencyMaxMs), "0.00"),
                runs.Sum(r => r.Wrk.Non2xx + r.Wrk.SocketErrors).ToString(CultureInfo.InvariantCulture),
                Reporting.Markdown.N(MedianOf(r => r.TargetCpuMicrosPerRequest), "0.0"),
                Reporting.Markdown.N(MedianOf(r => r.RedisCpuMicrosPerRequest), "0.0"),
                ProcessMemory.Format(runs.Max(r => r.RssPeakBytes)),
                ProcessMemory.Format(runs.Last().RssAfterBytes),
            ];
        });

    private static readonly string[] RoundHeader = ["round", "bare req/s", "service req/s", "hincrby req/s", "floor req/s", "service/bare", "hincrby/bare", "floor/bare"];

    private static readonly string[] TargetHeader = ["target", "req/s (median)", "p50 ms (median)", "p99 ms (median)", "max ms", "errors", "CPU µs/req", "Redis µs/req", "RSS peak", "RSS after"];

    private static void Print(CompareReport report)
    {
        Console.WriteLine();
        Console.WriteLine(string.Join("  ", RoundHeader.Select(h => h.PadLeft(14))));
        foreach (var row in RoundRows(report))
        {
            Console.WriteLine(string.Join("  ", row.Select(c => c.PadLeft(14))));
        }

        Console.WriteLine();
        Console.WriteLine(string.Join("  ", TargetHeader.Select(h => h.PadLeft(15))));
        foreach (var row in TargetRows(report))
        {
            Console.WriteLine(string.Join("  ", row.Select(c => c.PadLeft(15))));
        }

        Console.WriteLine();
        Console.WriteLine(report.CountCheck);
        Console.WriteLine(report.Rollup.Describe());
        Console.WriteLine(ClickHouseLine(report));
    }

    private static string ClickHouseLine(CompareReport report) =>
        "ClickHouse = Redis after the rollup, every counter of the service's sites (its warm-up too): " + report.ClickHouseVersusRedis.Verdict();

    private static string Markdown(CompareReport report) => new Markdown()
        .Heading($"compare {report.Scenario} — service/bare {Reporting.Markdown.N(report.MedianServiceOverBare, "0.00")}, hincrby/bare {Reporting.Markdown.N(report.MedianHincrbyOverBare, "0.00")}, floor/bare {Reporting.Markdown.N(report.MedianFloorOverBare, "0.00")}")
        .Paragraph($"{report.Started:yyyy-MM-dd HH:mm:ss zzz} on {report.Machine.Describe()}")
        .Code(report.Command)
        .Paragraph(string.Create(CultureInfo.InvariantCulture, $"wrk -t{report.Threads} -c{report.Connections} -d{report.Duration.TotalSeconds:0}s, loadtests/wrk/{report.Scenario}.lua; targets in turn each round. CPU µs/req: CPU time (user + system) the target process, and the Redis server, used per request wrk saw answered."))
        .Table(RoundHeader, RoundRows(report))
        .Table(TargetHeader, TargetRows(report))
        .Paragraph(report.CountCheck ?? "")
        .Paragraph(report.Rollup.Describe())
        .Paragraph(ClickHouseLine(report))
        .ToString();
}
