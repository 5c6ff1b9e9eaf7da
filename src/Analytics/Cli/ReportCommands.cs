using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Analytics.Reports;
using Analytics.Rollup;
using Analytics.Sites;
using Analytics.Telemetry;

namespace Analytics.Cli;

/// <summary><c>analytics export</c>, <c>analytics reconcile</c> and <c>analytics rollup</c>, straight against Redis and ClickHouse.</summary>
internal static class ReportCommands
{
    public static readonly Option<string?> ClickHouseOption = new("--clickhouse")
    {
        Description = "ClickHouse connection string (default: ConnectionStrings:ClickHouse, else Host=127.0.0.1;Port=8123;Username=default)",
        Recursive = true,
    };

    public static Command Export()
    {
        var site = new Option<string>("--site") { Description = "Site id", Required = true };
        var from = new Option<string?>("--from") { Description = "First day, YYYY-MM-DD in the site's time zone (default: 29 days before --to)" };
        var to = new Option<string?>("--to") { Description = "Last day, YYYY-MM-DD (default: today)" };
        var by = new Option<string>("--by") { Description = "day, page or referrer", DefaultValueFactory = _ => "day" };
        by.AcceptOnlyFromAmong("day", "page", "referrer");
        var format = new Option<string>("--format") { Description = "csv or json", DefaultValueFactory = _ => "csv" };
        format.AcceptOnlyFromAmong("csv", "json");
        var output = new Option<FileInfo?>("--out") { Description = "File to write (default: standard output); written atomically" };
        var command = new Command("export", "Export a daily report (closed days from ClickHouse, today and unrolled days from Redis).") { site, from, to, by, format, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var host = Host(parse);
            // Loaded first, so Redis being away is said as such, not as "no site".
            await host.Get<SiteStore>().ReloadAsync();
            var entry = await host.Get<SiteStore>().FindAsync(parse.GetValue(site)!);
            if (entry is null)
            {
                return SiteCommands.Fail($"There is no site '{parse.GetValue(site)}'.");
            }

            var (query, field, error) = ReportQuery.Parse(parse.GetValue(from), parse.GetValue(to), parse.GetValue(by), parse.GetValue(format), entry.LocalDay(DateTimeOffset.UtcNow));
            if (query is null)
            {
                return SiteCommands.Fail($"--{field}: {error}");
            }

            var file = parse.GetValue(output);
            using var activity = AnalyticsTelemetry.Source.StartActivity("report export");
            activity?.SetTag("analytics.report.by", query.By.ToString());
            var started = Stopwatch.GetTimestamp();
            var lastReport = started;
            void Progress(long rows)
            {
                if (Stopwatch.GetElapsedTime(lastReport) >= TimeSpan.FromSeconds(1))
                {
                    lastReport = Stopwatch.GetTimestamp();
                    Console.Error.WriteLine($"… {rows:N0} rows");
                }
            }

            long written;
            if (file is null)
            {
                await using var stdout = Console.OpenStandardOutput();
                written = await ReportWriter.WriteAsync(stdout, host.Get<ReportReader>().ReadAsync(entry, query, cancellationToken), query.By, query.Format, Progress, cancellationToken);
            }
            else
            {
                if (Directory.Exists(file.FullName))
                {
                    return SiteCommands.Fail($"--out: {file.FullName} is a folder; name a file.");
                }

                // Written beside the target and moved over it at the end: a failed export leaves no half file.
                var temporary = file.FullName + ".partial";
                try
                {
                    await using (var stream = File.Create(temporary))
                    {
                        written = await ReportWriter.WriteAsync(stream, host.Get<ReportReader>().ReadAsync(entry, query, cancellationToken), query.By, query.Format, Progress, cancellationToken);
                    }

                    File.Move(temporary, file.FullName, overwrite: true);
                }
                catch
                {
                    if (File.Exists(temporary))
                    {
                        File.Delete(temporary);
                    }

                    throw;
                }
            }

            activity?.SetTag("analytics.report.rows", written);
            host.Get<AnalyticsMetrics>().ExportRows.Add(written);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Console.Error.WriteLine($"Exported {written:N0} rows ({query.From:yyyy-MM-dd} … {query.To:yyyy-MM-dd}, by {parse.GetValue(by)}) in {seconds:0.0} s{(file is null ? "" : " to " + file.FullName)}.");
            return 0;
        });
        return command;
    }

    public static Command Reconcile()
    {
        var site = new Option<string>("--site") { Description = "Site id", Required = true };
        var from = new Option<string?>("--from") { Description = "First day, YYYY-MM-DD (default: 29 days before --to)" };
        var to = new Option<string?>("--to") { Description = "Last day, YYYY-MM-DD (default: today)" };
        var command = new Command("reconcile", "Compare Redis and ClickHouse day by day; exits 1 when they disagree.") { site, from, to };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var host = Host(parse);
            // Loaded first, so Redis being away is said as such, not as "no site".
            await host.Get<SiteStore>().ReloadAsync();
            var entry = await host.Get<SiteStore>().FindAsync(parse.GetValue(site)!);
            if (entry is null)
            {
                return SiteCommands.Fail($"There is no site '{parse.GetValue(site)}'.");
            }

            var (query, field, error) = ReportQuery.Parse(parse.GetValue(from), parse.GetValue(to), null, null, entry.LocalDay(DateTimeOffset.UtcNow));
            if (query is null)
            {
                return SiteCommands.Fail($"--{field}: {error}");
            }

            var days = await host.Get<Reconciler>().CompareAsync(entry.Id, query.From, query.To, cancellationToken);
            Console.WriteLine($"{"DATE",-10}  {"REDIS VIEWS",11}  {"PAGES",9}  {"VISITORS",9}  {"CLICKHOUSE",11}  {"PAGES",9}  {"VISITORS",9}  STATUS");
            foreach (var day in days.Where(d => d.RedisViews > 0 || d.ClickHouseViews > 0))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{day.Date:yyyy-MM-dd}  {day.RedisViews,11}  {day.RedisPageViews,9}  {day.RedisVisitors,9}  {day.ClickHouseViews,11}  {day.ClickHousePageViews,9}  {day.ClickHouseVisitors,9}  {Describe(day.Status)}"));
            }

            var mismatches = days.Count(d => d.Status == ReconcileStatus.Mismatch);
            var pending = days.Count(d => d.Status == ReconcileStatus.Pending);
            Console.WriteLine(mismatches == 0
                ? $"Redis and ClickHouse agree on {entry.Id}, {query.From:yyyy-MM-dd} … {query.To:yyyy-MM-dd}{(pending > 0 ? $" ({pending} days wait for the next rollup)" : "")}."
                : $"{mismatches} days differ.");
            return mismatches == 0 ? 0 : 1;
        });
        return command;
    }

    public static Command RollupNow()
    {
        var command = new Command("rollup", "Roll up changed counters to ClickHouse now (the server does this every interval).");
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var host = Host(parse);
            var result = await host.Get<RollupRunner>().RunAsync(cancellationToken);
            Console.WriteLine(result is null
                ? "Another node is rolling up right now; nothing done."
                : $"Rolled up {result.Pairs} site-days ({result.Rows} rows) in {result.Elapsed.TotalMilliseconds:0} ms.");
            return 0;
        });
        return command;
    }

    private static CliHost Host(ParseResult parse) =>
        CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption), parse.GetValue(ClickHouseOption));

    private static string Describe(ReconcileStatus status) => status switch
    {
        ReconcileStatus.Ok => "ok",
        ReconcileStatus.Pending => "pending rollup",
        ReconcileStatus.Expired => "expired from Redis (ClickHouse is the record)",
        _ => "MISMATCH",
    };
}
