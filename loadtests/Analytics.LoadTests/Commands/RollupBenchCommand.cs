using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Analytics.Cli;
using Analytics.LoadTests.Load;
using Analytics.LoadTests.Reporting;
using Analytics.LoadTests.Stack;
using Analytics.LoadTests.Verification;
using Analytics.Reports;
using Analytics.Rollup;
using Analytics.Sites;

namespace Analytics.LoadTests.Commands;

/// <summary>One export measured: rows, time, rows a second, and whether rows and views are what was counted.</summary>
internal sealed record ExportRun(string Via, long Rows, long Views, double Seconds, double RowsPerSecond, bool Exact);

/// <summary>The outcome of <c>rollup-bench</c>.</summary>
internal sealed record RollupBenchReport(
    string Command,
    DateTimeOffset Started,
    MachineInfo Machine,
    int Sites,
    int Days,
    int PageCounters,
    long Events,
    double IngestSeconds,
    double IngestEventsPerSecond,
    VerificationResult Redis,
    int RollupPairs,
    long RollupRows,
    double RollupMs,
    double RollupWallMs,
    VerificationResult ClickHouse,
    VerificationResult ClickHouseVersusRedis,
    ExportRun InProcess,
    ExportRun Http)
{
    public bool Passed => Redis.Passed && ClickHouse.Passed && ClickHouseVersusRedis.Passed && InProcess.Exact && Http.Exact;
}

/// <summary>
/// <c>rollup-bench</c>: puts N distinct page counters into Redis through the real ingest (batches
/// back-filled over a few days and sites), times one rollup of them all, then exports them by page
/// (in process with ReportReader + ReportWriter, and over HTTP), checking every count.
/// </summary>
internal static class RollupBenchCommand
{
    public static Command Create()
    {
        var pages = CommonOptions.AtLeastOne(new Option<int>("--pages") { Description = "Distinct page counters (site, day, path) to roll up", DefaultValueFactory = _ => 100_000 });
        var sites = CommonOptions.Sites(4);
        var days = CommonOptions.AtLeastOne(new Option<int>("--days") { Description = "Days the counters are spread over (today and the days before)", DefaultValueFactory = _ => 5 });
        var batch = CommonOptions.AtLeastOne(new Option<int>("--batch") { Description = "Events per POST /api/events", DefaultValueFactory = _ => 1000 });
        var connections = CommonOptions.Connections(4);
        var results = CommonOptions.Results();
        var stack = new StackOptionSet(targetable: false);
        var command = new Command("rollup-bench", """
            Rollup and export throughput: sends N distinct page counters (sites × days × paths, one view each)
            through POST /api/events, checks Redis, times one rollup of all of them to ClickHouse (the service's
            own rollup is turned off, so one pass takes them all), checks ClickHouse, then exports by=page for the
            whole range in process (ReportReader + ReportWriter to a null stream) and over HTTP
            (/api/sites/{site}/reports/daily?by=page), checking the row counts and views exactly.
            """)
        {
            pages, sites, days, batch, connections, results,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Dictionary<string, string> { ["Analytics__Rollup__Enabled"] = "false" };
            var report = await ExecuteAsync(parse.GetValue(pages), parse.GetValue(sites), parse.GetValue(days), parse.GetValue(batch), parse.GetValue(connections),
                stack.Read(parse, settings), parse.GetValue(results), cancellationToken);
            return report.Passed ? 0 : 1;
        });
        return command;
    }

    private static async Task<RollupBenchReport> ExecuteAsync(int pageCounters, int siteCount, int days, int batchSize, int connections,
        StackOptions stackOptions, string? resultsDirectory, CancellationToken cancellationToken)
    {
        if (days is < 1 or > 30 || pageCounters < siteCount * days)
        {
            throw new ArgumentException("--days must be 1 … 30, and --pages at least sites × days.");
        }

        var started = DateTimeOffset.Now;
        var machine = MachineInfo.Current();
        var log = Console.Error;
        await using var stack = await LoadStack.StartAsync(stackOptions, log, cancellationToken);
        var prefix = AdminApi.NewRunPrefix("rb");
        var sites = await AdminApi.CreateSitesAsync(stack.BaseAddress, stack.AdminToken, prefix, siteCount, utcOnly: true, publicCounter: false, cancellationToken);
        var warm = await AdminApi.CreateSiteAsync(stack.BaseAddress, stack.AdminToken, prefix + "-warm", "UTC", publicCounter: false, cancellationToken);
        Console.WriteLine(machine.Describe());
        await using var host = CliHost.Create(stack.RedisConnection, stack.ClickHouseConnection);
        var runner = host.Get<RollupRunner>();
        using var http = LoadGenerator.CreateClient(stack.BaseAddress, connections);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var first = today.AddDays(-(days - 1));

        // Warm up the rollup, the exports and ClickHouse on a small site, so the numbers below are not the JIT's.
        var warmExpected = new ExpectedCounts();
        await IngestAsync(http, [Plan(warm, today, 0, 100)], 100, 1, warmExpected, cancellationToken);
        await runner.RunAsync(cancellationToken);
        await ExportInProcessAsync(host, [warm], first, today, warmExpected, cancellationToken);
        await ExportHttpAsync(stack, [warm], first, today, warmExpected, cancellationToken);

        // The counters: every (site, day) pair gets its share of distinct paths, one view each.
        var pairs = sites.SelectMany(s => Enumerable.Range(0, days).Select(d => (Site: s, Day: first.AddDays(d)))).ToList();
        var plans = pairs.Select((p, i) => Plan(p.Site, p.Day, 0, (pageCounters / pairs.Count) + (i < pageCounters % pairs.Count ? 1 : 0))).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{pageCounters:N0} page counters = {siteCount} sites × {days} days × ~{pageCounters / pairs.Count:N0} paths, through POST /api/events ({batchSize:N0} events a batch, {connections} at once)"));
        var expected = new ExpectedCounts();
        var ingest = Stopwatch.StartNew();
        await IngestAsync(http, plans, batchSize, connections, expected, cancellationToken);
        ingest.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ingest: {expected.MustCount:N0} events in {ingest.Elapsed.TotalSeconds:0.00} s = {expected.MustCount / ingest.Elapsed.TotalSeconds:N0} events/s"));

        var verifier = new CountVerifier(stack.Redis, stack.ClickHouse);
        var (redis, redisSnapshot) = await verifier.VerifyRedisAsync(expected, cancellationToken);
        Console.WriteLine(redis.Describe());

        var wall = Stopwatch.StartNew();
        var rollup = await runner.RunAsync(cancellationToken) ?? throw new InvalidOperationException("Another rollup held the lock; is the service's rollup on?");
        wall.Stop();
        var pending = await Rollups.AnyPendingAsync(stack.Redis, expected.Sites);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rollup: {rollup.Pairs:N0} site-days, {rollup.Rows:N0} rows to ClickHouse in {rollup.Elapsed.TotalMilliseconds:N0} ms ({wall.Elapsed.TotalMilliseconds:N0} ms wall, {rollup.Rows / rollup.Elapsed.TotalSeconds:N0} rows/s){(pending ? "; some days still pending!" : "")}"));
        var (clickHouse, clickHouseVersusRedis, _) = await verifier.VerifyClickHouseAsync(expected, redisSnapshot, cancellationToken);
        Console.WriteLine(clickHouse.Describe());
        Console.WriteLine(clickHouseVersusRedis!.Describe());

        var inProcess = await ExportInProcessAsync(host, sites, first, today, expected, cancellationToken);
        Console.WriteLine(Describe(inProcess));
        var overHttp = await ExportHttpAsync(stack, sites, first, today, expected, cancellationToken);
        Console.WriteLine(Describe(overHttp));

        var report = new RollupBenchReport(CommonOptions.CommandLine(), started, machine, siteCount, days, pageCounters, expected.MustCount,
            ingest.Elapsed.TotalSeconds, expected.MustCount / ingest.Elapsed.TotalSeconds, redis, rollup.Pairs, rollup.Rows, rollup.Elapsed.TotalMilliseconds,
            wall.Elapsed.TotalMilliseconds, clickHouse, clickHouseVersusRedis, inProcess, overHttp);
        Console.WriteLine(report.Passed ? "PASS: every counter rolled up and exported exactly." : "FAIL: counts or rows differ.");
        var (json, markdown) = ResultFiles.Write(resultsDirectory, "rollup-bench", report, Markdown(report));
        Console.WriteLine($"results: {json}\n         {markdown}");
        return report;
    }

    private sealed record SitePlan(LoadSite Site, DateOnly Day, int FirstPath, int Paths);

    private static SitePlan Plan(LoadSite site, DateOnly day, int firstPath, int paths) => new(site, day, firstPath, paths);

    /// <summary>Sends every planned path once, in batches of one site, several at once; records what was accepted.</summary>
    private static async Task IngestAsync(HttpClient http, IReadOnlyList<SitePlan> plans, int batchSize, int connections, ExpectedCounts expected, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var batches = plans
            .SelectMany(p => Enumerable.Range(p.FirstPath, p.Paths).Select(i => (p.Site, p.Day, Path: string.Create(CultureInfo.InvariantCulture, $"/articles/{i}"))))
            .GroupBy(e => e.Site)
            .SelectMany(g => g.Chunk(batchSize).Select(chunk => (Site: g.Key, Events: chunk)))
            .ToList();
        var gate = new Lock();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = connections, CancellationToken = cancellationToken }, async (batch, token) =>
        {
            using var body = new MemoryStream();
            using (var json = new Utf8JsonWriter(body))
            {
                json.WriteStartArray();
                foreach (var (_, day, path) in batch.Events)
                {
                    // Noon of the day, or just now for today before noon.
                    var noon = new DateTimeOffset(day.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
                    var at = noon < now ? noon : new DateTimeOffset(Math.Max(now.AddSeconds(-1).UtcTicks, day.ToDateTime(TimeOnly.MinValue).Ticks), TimeSpan.Zero);
                    json.WriteStartObject();
                    json.WriteString("url", $"https://{batch.Site.Domain}{path}");
                    json.WriteString("ts", at.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = new ByteArrayContent(body.ToArray()) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", batch.Site.IngestKey);
            using var response = await http.SendAsync(request, token);
            var answer = await response.Content.ReadAsStringAsync(token);
            using var parsed = response.IsSuccessStatusCode ? JsonDocument.Parse(answer) : null;
            if (parsed is null || parsed.RootElement.GetProperty("accepted").GetInt32() != batch.Events.Length)
            {
                throw new InvalidOperationException($"POST /api/events answered {(int)response.StatusCode}: {answer}");
            }

            lock (gate)
            {
                foreach (var (site, day, path) in batch.Events)
                {
                    expected.AddAcknowledged(new HitCell(site.Id, day, path, "(direct)"));
                }
            }
        });
    }

    /// <summary>Export by page with the service's ReportReader and ReportWriter (CSV) to a null stream.</summary>
    private static async Task<ExportRun> ExportInProcessAsync(CliHost host, IReadOnlyList<LoadSite> sites, DateOnly from, DateOnly to, ExpectedCounts expected, CancellationToken cancellationToken)
    {
        var store = host.Get<SiteStore>();
        var reader = host.Get<ReportReader>();
        long rows = 0;
        long views = 0;
        var watch = Stopwatch.StartNew();
        foreach (var site in sites)
        {
            var entry = await store.FindAsync(site.Id) ?? throw new InvalidOperationException($"Site {site.Id} is not in the store.");
            var query = new ReportQuery(from, to, ReportBy.Page, ReportFormat.Csv);
            async IAsyncEnumerable<ReportRow> Counted()
            {
                await foreach (var row in reader.ReadAsync(entry, query, cancellationToken))
                {
                    views += row.Views;
                    yield return row;
                }
            }

            rows += await ReportWriter.WriteAsync(Stream.Null, Counted(), ReportBy.Page, ReportFormat.Csv, cancellationToken: cancellationToken);
        }

        watch.Stop();
        return Run("in process (ReportReader + ReportWriter, CSV)", rows, views, watch.Elapsed, sites, expected);
    }

    /// <summary>Export by page over HTTP (CSV), counting rows and adding up the views column as it streams.</summary>
    private static async Task<ExportRun> ExportHttpAsync(LoadStack stack, IReadOnlyList<LoadSite> sites, DateOnly from, DateOnly to, ExpectedCounts expected, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = stack.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stack.AdminToken);
        long rows = 0;
        long views = 0;
        var buffer = new byte[64 * 1024];
        var watch = Stopwatch.StartNew();
        foreach (var site in sites)
        {
            using var response = await http.GetAsync($"/api/sites/{site.Id}/reports/daily?from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}&by=page&format=csv",
                HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var csv = new CsvTail();
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                csv.Feed(buffer.AsSpan(0, read));
            }

            rows += csv.Rows;
            views += csv.Views;
        }

        watch.Stop();
        return Run("HTTP GET /api/sites/{site}/reports/daily?by=page (CSV)", rows, views, watch.Elapsed, sites, expected);
    }

    private static ExportRun Run(string via, long rows, long views, TimeSpan elapsed, IReadOnlyList<LoadSite> sites, ExpectedCounts expected)
    {
        var ids = sites.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var cells = expected.Acknowledged.Where(c => ids.Contains(c.Key.Site)).ToList();
        var exact = rows == cells.Count && views == cells.Sum(c => c.Value);
        return new ExportRun(via, rows, views, elapsed.TotalSeconds, rows / elapsed.TotalSeconds, exact);
    }

    private static string Describe(ExportRun run) => $"export {run.Via}: {Numbers(run)}";

    private static string Numbers(ExportRun run) => string.Create(CultureInfo.InvariantCulture,
        $"{run.Rows:N0} rows ({run.Views:N0} views) in {run.Seconds * 1000:N0} ms = {run.RowsPerSecond:N0} rows/s — {(run.Exact ? "PASS (exact)" : "FAIL")}");

    /// <summary>Counts the data rows of a CSV stream and adds up its last column (views); fields here never hold commas.</summary>
    private sealed class CsvTail
    {
        private bool _header = true;
        private long _field;

        public long Rows { get; private set; }

        public long Views { get; private set; }

        public void Feed(ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes)
            {
                if (b == (byte)'\n')
                {
                    if (!_header)
                    {
                        Rows++;
                        Views += _field;
                    }

                    _header = false;
                    _field = 0;
                }
                else if (b == (byte)',')
                {
                    _field = 0;
                }
                else if (b is >= (byte)'0' and <= (byte)'9')
                {
                    _field = (_field * 10) + (b - '0');
                }
            }
        }
    }

    private static string Markdown(RollupBenchReport report) => new Markdown()
        .Heading($"rollup-bench — {(report.Passed ? "PASS" : "FAIL")}: {Reporting.Markdown.N(report.PageCounters)} page counters rolled up in {Reporting.Markdown.N(report.RollupMs)} ms")
        .Paragraph($"{report.Started:yyyy-MM-dd HH:mm:ss zzz} on {report.Machine.Describe()}")
        .Code(report.Command)
        .Table(["", ""], (IEnumerable<IReadOnlyList<string>>)
        [
            ["counters", string.Create(CultureInfo.InvariantCulture, $"{report.PageCounters:N0} = {report.Sites} sites × {report.Days} days × paths, one view each")],
            ["ingest (POST /api/events)", string.Create(CultureInfo.InvariantCulture, $"{report.Events:N0} events in {report.IngestSeconds:0.00} s = {report.IngestEventsPerSecond:N0} events/s")],
            ["Redis = acknowledged", report.Redis.Verdict()],
            ["rollup", string.Create(CultureInfo.InvariantCulture, $"{report.RollupPairs} site-days, {report.RollupRows:N0} rows in {report.RollupMs:N0} ms ({report.RollupRows / (report.RollupMs / 1000):N0} rows/s)")],
            ["ClickHouse = acknowledged", report.ClickHouse.Verdict()],
            ["ClickHouse = Redis", report.ClickHouseVersusRedis.Verdict()],
            ["export " + report.InProcess.Via, Numbers(report.InProcess)],
            ["export " + report.Http.Via, Numbers(report.Http)],
        ])
        .ToString();
}
