using System.Globalization;
using Analytics.LoadTests.Load;

namespace Analytics.LoadTests.Reporting;

/// <summary>A load's numbers as they go into the result files.</summary>
internal sealed record LoadSummary(
    string Scenario,
    double ElapsedSeconds,
    long Requests,
    long Succeeded,
    long Failed,
    double RequestsPerSecond,
    long HitsSent,
    long HitsAcknowledged,
    double HitsPerSecond,
    long UncertainHits,
    long EitherDayHits,
    IReadOnlyDictionary<string, long> Errors,
    LatencySummary Latency)
{
    public static LoadSummary Of(LoadResult load) => new(
        load.Scenario,
        Math.Round(load.Elapsed.TotalSeconds, 3),
        load.Requests,
        load.Succeeded,
        load.Failed,
        Math.Round(load.RequestsPerSecond, 1),
        load.HitsSent,
        load.HitsAcknowledged,
        Math.Round(load.HitsPerSecond, 1),
        load.Expected.UncertainViews,
        load.Expected.EitherDayViews,
        load.Errors,
        load.Latency);

    public string Describe()
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{Scenario}: {Requests:N0} requests in {ElapsedSeconds:0.0} s = {RequestsPerSecond:N0} req/s; {HitsAcknowledged:N0} of {HitsSent:N0} hits acknowledged ({HitsPerSecond:N0} hits/s); errors {Failed:N0}");
        foreach (var (error, count) in Errors)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"\n    {count,9:N0} × {error}");
        }

        if (UncertainHits > 0 || EitherDayHits > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"\n    {UncertainHits:N0} hits uncertain (no answer), {EitherDayHits:N0} sent across a site's midnight");
        }

        return text + "\nlatency " + Latency.Describe();
    }

    public IEnumerable<IReadOnlyList<string>> Rows() =>
    [
        ["requests", Markdown.N(Requests) + $" in {Markdown.N(ElapsedSeconds, "0.0")} s"],
        ["throughput", $"{Markdown.N(RequestsPerSecond)} req/s, {Markdown.N(HitsPerSecond)} hits/s"],
        ["hits acknowledged", $"{Markdown.N(HitsAcknowledged)} of {Markdown.N(HitsSent)} sent"],
        ["errors", Failed == 0 ? "0" : Markdown.N(Failed) + " (" + string.Join("; ", Errors.Select(e => $"{Markdown.N(e.Value)} × {e.Key}")) + ")"],
        ["latency p50 / p95 / p99 / p99.9 / max", string.Create(CultureInfo.InvariantCulture, $"{Latency.P50:0.00} / {Latency.P95:0.00} / {Latency.P99:0.00} / {Latency.P999:0.00} / {Latency.Max:0.00} ms")],
    ];
}
