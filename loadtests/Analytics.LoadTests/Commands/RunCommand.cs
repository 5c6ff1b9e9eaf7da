using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using Analytics.LoadTests.Load;
using Analytics.LoadTests.Reporting;
using Analytics.LoadTests.Stack;
using Analytics.LoadTests.Verification;

namespace Analytics.LoadTests.Commands;

/// <summary>What <c>run</c> does; a test may build one and call <see cref="RunCommand.ExecuteAsync"/>.</summary>
internal sealed record RunSettings(string Scenario, TimeSpan Duration, int Connections, double Rate, int Sites, int Pages, int Days)
{
    [JsonIgnore]
    public StackOptions Stack { get; init; } = new();

    [JsonIgnore]
    public string? ResultsDirectory { get; init; }

    [JsonIgnore]
    public bool WriteResults { get; init; } = true;

    [JsonIgnore]
    public bool Progress { get; init; } = true;

    public string? Target => Stack.Target?.ToString();
}

/// <summary>The outcome of <c>run</c>: the load, and each verification (Redis; after a rollup, ClickHouse).</summary>
internal sealed record RunReport(
    string Command,
    DateTimeOffset Started,
    MachineInfo Machine,
    RunSettings Settings,
    LoadSummary Load,
    VerificationResult Redis,
    RollupRun? Rollup,
    VerificationResult? ClickHouse,
    VerificationResult? ClickHouseVersusRedis,
    long? ServiceRssPeakBytes,
    long? ServiceRssAfterBytes)
{
    public bool Passed => Redis.Passed && ClickHouse?.Passed != false && ClickHouseVersusRedis?.Passed != false;
}

/// <summary>
/// <c>run</c>: load the service with one scenario, then check that every acknowledged hit is in
/// Redis and, after a rollup, in ClickHouse — exactly. Exits 1 on any difference.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var scenario = new Option<string>("--scenario", "-s")
        {
            Description = "pixel (GET /p.gif), beacon (POST /api/event), batch (POST /api/events, 100 back-filled events), or mix (all of them)",
            DefaultValueFactory = _ => "pixel",
        };
        scenario.AcceptOnlyFromAmong(Scenarios.Names);
        var duration = CommonOptions.Duration(TimeSpan.FromSeconds(30));
        var connections = CommonOptions.Connections();
        var rate = CommonOptions.Rate();
        var sites = CommonOptions.Sites();
        var pages = CommonOptions.Pages();
        var days = CommonOptions.Days();
        var results = CommonOptions.Results();
        var stack = new StackOptionSet(targetable: true);
        var command = new Command("run", """
            Send load, then verify exactly: every hit the service acknowledged (2xx) is counted in Redis
            (views per site and local day, per page, per referrer, all-time total), and after a rollup in
            ClickHouse (daily_site / daily_page / daily_referrer FINAL), which must also equal Redis.
            Starts its own Redis, ClickHouse and service (Release build) unless --target is given.
            Prints throughput, latency percentiles and PASS/FAIL; writes loadtests/results/<time>-<scenario>.{json,md}.
            Exit code 1 when a count differs.
            """)
        {
            scenario, duration, connections, rate, sites, pages, days, results,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new RunSettings(parse.GetValue(scenario)!, parse.GetValue(duration), parse.GetValue(connections), parse.GetValue(rate),
                parse.GetValue(sites), parse.GetValue(pages), parse.GetValue(days))
            {
                Stack = stack.Read(parse),
                ResultsDirectory = parse.GetValue(results),
            };
            var report = await ExecuteAsync(settings, Console.Out, Console.Error, cancellationToken);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    public static async Task<RunReport> ExecuteAsync(RunSettings settings, TextWriter output, TextWriter log, CancellationToken cancellationToken)
    {
        if (settings.Days is < 1 or > 30)
        {
            throw new ArgumentException("--days must be 1 … 30 (the service back-fills at most 35 days).");
        }

        var started = DateTimeOffset.Now;
        var machine = MachineInfo.Current();
        await using var stack = await LoadStack.StartAsync(settings.Stack, log, cancellationToken);
        var sites = await AdminApi.CreateSitesAsync(stack.BaseAddress, stack.AdminToken, AdminApi.NewRunPrefix(settings.Scenario), settings.Sites,
            utcOnly: false, publicCounter: false, cancellationToken);
        var scenario = Scenarios.Create(settings.Scenario, new LoadCatalog(sites, settings.Pages, settings.Days));
        output.WriteLine($"{machine.Describe()}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{settings.Scenario} for {settings.Duration.TotalSeconds:0.#} s, {settings.Connections} connections, {(settings.Rate > 0 ? $"{settings.Rate:N0} req/s" : "flat out")}, {settings.Sites} sites × {settings.Pages} pages{(settings.Scenario is "batch" or "mix" ? $", batches over {settings.Days} days" : "")} → {stack.BaseAddress}"));

        LoadResult load;
        long? rssPeak = null;
        using (var http = LoadGenerator.CreateClient(stack.BaseAddress, settings.Connections))
        {
            var service = stack.Service;
            var memory = service is null ? null : new MemorySampler(service.ResidentBytes, TimeSpan.FromMilliseconds(500));
            try
            {
                load = await LoadGenerator.RunAsync(http, scenario, new LoadSettings(settings.Duration, settings.Connections, settings.Rate)
                {
                    Label = settings.Scenario,
                    Progress = settings.Progress,
                    ProgressExtra = service is null ? null : () => "service RSS " + ProcessMemory.Format(service.ResidentBytes()),
                }, cancellationToken);
            }
            finally
            {
                if (memory is not null)
                {
                    await memory.DisposeAsync();
                    rssPeak = memory.Peak;
                }
            }
        }

        var summary = LoadSummary.Of(load);
        output.WriteLine();
        output.WriteLine(summary.Describe());
        if (stack.Service is not null)
        {
            output.WriteLine($"service RSS peak {ProcessMemory.Format(rssPeak)}, after {ProcessMemory.Format(stack.Service.ResidentBytes())}");
        }

        var verifier = new CountVerifier(stack.Redis, stack.ClickHouse);
        var (redis, redisSnapshot) = await verifier.VerifyRedisAsync(load.Expected, cancellationToken);
        output.WriteLine(redis.Describe());

        RollupRun? rollup = null;
        VerificationResult? clickHouse = null;
        VerificationResult? clickHouseVersusRedis = null;
        if (stack.ClickHouseConnection is not null)
        {
            rollup = await Rollups.RollUpAsync(stack.RedisConnection, stack.ClickHouseConnection, stack.Redis, load.Expected.Sites, TimeSpan.FromSeconds(120), cancellationToken);
            output.WriteLine(rollup.Describe());
            (clickHouse, clickHouseVersusRedis, _) = await verifier.VerifyClickHouseAsync(load.Expected, redisSnapshot, cancellationToken);
            output.WriteLine(clickHouse.Describe());
            output.WriteLine(clickHouseVersusRedis!.Describe());
        }

        var report = new RunReport(CommonOptions.CommandLine(), started, machine, settings, summary, redis, rollup, clickHouse, clickHouseVersusRedis,
            rssPeak, stack.Service?.ResidentBytes());
        output.WriteLine(report.Passed ? "PASS: every acknowledged hit is counted, exactly." : "FAIL: the counts differ from what was acknowledged.");
        if (settings.WriteResults)
        {
            var (json, markdown) = ResultFiles.Write(settings.ResultsDirectory, settings.Scenario, report, Markdown(report));
            output.WriteLine($"results: {json}\n         {markdown}");
        }

        return report;
    }

    private static string Markdown(RunReport report)
    {
        var md = new Markdown()
            .Heading($"run {report.Settings.Scenario} — {(report.Passed ? "PASS" : "FAIL")}")
            .Paragraph($"{report.Started:yyyy-MM-dd HH:mm:ss zzz} on {report.Machine.Describe()}")
            .Code(report.Command);
        var rows = report.Load.Rows().ToList();
        if (report.ServiceRssPeakBytes is not null)
        {
            rows.Add(["service RSS peak / after", $"{ProcessMemory.Format(report.ServiceRssPeakBytes)} / {ProcessMemory.Format(report.ServiceRssAfterBytes)}"]);
        }

        rows.Add(["Redis = acknowledged", report.Redis.Verdict()]);
        if (report.Rollup is { } rollup)
        {
            rows.Add(["rollup", $"{Reporting.Markdown.N(rollup.Pairs)} site-days, {Reporting.Markdown.N(rollup.Rows)} rows, {Reporting.Markdown.N(rollup.Elapsed.TotalMilliseconds)} ms"]);
        }

        if (report.ClickHouse is not null)
        {
            rows.Add(["ClickHouse = acknowledged", report.ClickHouse.Verdict()]);
            rows.Add(["ClickHouse = Redis", report.ClickHouseVersusRedis!.Verdict()]);
        }

        return md.Table(["", ""], rows.Select(r => (IReadOnlyList<string>)[r[0], r[1].Replace("\n", "<br>", StringComparison.Ordinal)])).ToString();
    }
}
