using System.Diagnostics;

namespace Analytics.LoadTests.Load;

/// <summary>
/// Latencies in microseconds, HdrHistogram-like: exact below 2 ms, then 1,024 buckets per power
/// of two (0.1 % precision) up to 10 minutes. Recording is lock-free; a snapshot can be taken any
/// time, and the difference of two snapshots is the distribution of the interval between them.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Linear = 2048;
    private const int SubBuckets = 1024;
    private const int SubBits = 10;
    private const long MaxMicroseconds = 600_000_000;
    private static readonly int Size = Index(MaxMicroseconds) + 1;

    private readonly long[] _counts;
    private long _max;

    public LatencyHistogram() => _counts = new long[Size];

    private LatencyHistogram(long[] counts, long max)
    {
        _counts = counts;
        _max = max;
    }

    public long Count => _counts.Sum();

    public void RecordTicks(long stopwatchTicks) => Record(stopwatchTicks * 1_000_000 / Stopwatch.Frequency);

    public void Record(long microseconds)
    {
        var value = Math.Clamp(microseconds, 0, MaxMicroseconds);
        Interlocked.Increment(ref _counts[Index(value)]);
        InterlockedMax(ref _max, value);
    }

    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> when that is larger, safely from any thread.</summary>
    public static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    public LatencyHistogram Snapshot()
    {
        var copy = new long[Size];
        for (var i = 0; i < Size; i++)
        {
            copy[i] = Interlocked.Read(ref _counts[i]);
        }

        return new LatencyHistogram(copy, Interlocked.Read(ref _max));
    }

    /// <summary>What was recorded since <paramref name="earlier"/> (the max is the overall max).</summary>
    public LatencyHistogram Minus(LatencyHistogram earlier)
    {
        var copy = new long[Size];
        for (var i = 0; i < Size; i++)
        {
            copy[i] = _counts[i] - earlier._counts[i];
        }

        return new LatencyHistogram(copy, _max);
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < Size; i++)
        {
            _counts[i] += other._counts[i];
        }

        _max = Math.Max(_max, other._max);
    }

    /// <summary>The value at quantile <paramref name="q"/> (0…1), in microseconds (the bucket's upper edge).</summary>
    public long Percentile(double q)
    {
        var total = Count;
        if (total == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (var i = 0; i < Size; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperEdge(i), _max);
            }
        }

        return _max;
    }

    public double MeanMicroseconds()
    {
        double sum = 0;
        long count = 0;
        for (var i = 0; i < Size; i++)
        {
            if (_counts[i] > 0)
            {
                sum += _counts[i] * (double)UpperEdge(i);
                count += _counts[i];
            }
        }

        return count == 0 ? 0 : sum / count;
    }

    public LatencySummary Summary() => new(
        Count,
        Percentile(0.50) / 1000.0,
        Percentile(0.90) / 1000.0,
        Percentile(0.95) / 1000.0,
        Percentile(0.99) / 1000.0,
        Percentile(0.999) / 1000.0,
        Interlocked.Read(ref _max) / 1000.0,
        MeanMicroseconds() / 1000.0);

    private static int Index(long value)
    {
        if (value < Linear)
        {
            return (int)value;
        }

        var magnitude = 63 - (int)long.LeadingZeroCount(value) - SubBits;
        return Linear + ((magnitude - 1) * SubBuckets) + (int)((value >> magnitude) - SubBuckets);
    }

    private static long UpperEdge(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var magnitude = ((index - Linear) / SubBuckets) + 1;
        var sub = ((index - Linear) % SubBuckets) + SubBuckets;
        return ((sub + 1L) << magnitude) - 1;
    }
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed record LatencySummary(long Count, double P50, double P90, double P95, double P99, double P999, double Max, double Mean)
{
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"p50 {P50:0.00} ms  p95 {P95:0.00} ms  p99 {P99:0.00} ms  p99.9 {P999:0.00} ms  max {Max:0.00} ms");
}
