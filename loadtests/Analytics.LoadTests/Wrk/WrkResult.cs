using System.Globalization;
using System.Text.RegularExpressions;

namespace Analytics.LoadTests.Wrk;

/// <summary>What wrk printed: Requests/sec, completed requests, latency (average, max and the --latency percentiles), errors.</summary>
internal sealed partial record WrkResult(
    double RequestsPerSecond,
    long Requests,
    double DurationSeconds,
    double LatencyAverageMs,
    double LatencyMaxMs,
    IReadOnlyDictionary<string, double> LatencyPercentilesMs,
    long Non2xx,
    long SocketErrors)
{
    public double Percentile(string name) => LatencyPercentilesMs.GetValueOrDefault(name, double.NaN);

    public static WrkResult Parse(string output)
    {
        var rps = Match(RequestsPerSecondLine(), output, m => Number(m.Groups[1].Value))
            ?? throw new FormatException("wrk printed no Requests/sec line:\n" + output);
        var (requests, duration) = Match(RequestsLine(), output, m => ((long)Number(m.Groups[1].Value), Duration(m.Groups[2].Value, m.Groups[3].Value))) ?? (0L, 0.0);
        var (average, max) = Match(LatencyLine(), output, m => (Duration(m.Groups[1].Value, m.Groups[2].Value), Duration(m.Groups[5].Value, m.Groups[6].Value))) ?? (double.NaN, double.NaN);
        var percentiles = PercentileLine().Matches(output).ToDictionary(
            m => "p" + m.Groups[1].Value,
            m => Duration(m.Groups[2].Value, m.Groups[3].Value));
        var non2xx = Match(Non2xxLine(), output, m => (long)Number(m.Groups[1].Value)) ?? 0;
        var socketErrors = Match(SocketErrorsLine(), output, m => m.Groups.Values.Skip(1).Sum(g => (long)Number(g.Value))) ?? 0;
        return new WrkResult(rps, requests, duration, average, max, percentiles, non2xx, socketErrors);
    }

    private static T? Match<T>(Regex regex, string text, Func<Match, T> read) where T : struct
    {
        var match = regex.Match(text);
        return match.Success ? read(match) : null;
    }

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>A wrk duration ("440.00us", "1.20ms", "2.00s", "1.00m") in milliseconds.</summary>
    private static double Duration(string value, string unit) => Number(value) * unit switch
    {
        "us" => 0.001,
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => double.NaN,
    };

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecondLine();

    [GeneratedRegex(@"(\d+) requests in ([\d.]+)(us|ms|s|m|h)")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)")]
    private static partial Regex LatencyLine();

    [GeneratedRegex(@"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)", RegexOptions.Multiline)]
    private static partial Regex PercentileLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsLine();
}
