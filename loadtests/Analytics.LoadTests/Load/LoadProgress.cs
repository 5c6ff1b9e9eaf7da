using System.Diagnostics;
using System.Globalization;

namespace Analytics.LoadTests.Load;

/// <summary>A line on standard error every second: elapsed, requests/s and hits/s of the last second, errors so far, p99 of the last second.</summary>
internal sealed class LoadProgress : IAsyncDisposable
{
    private readonly LoadSettings _settings;
    private readonly LoadCounters _counters;
    private readonly LatencyHistogram _histogram;
    private readonly long _start;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LoadProgress(LoadSettings settings, LoadCounters counters, LatencyHistogram histogram, long start)
    {
        _settings = settings;
        _counters = counters;
        _histogram = histogram;
        _start = start;
        _loop = LoopAsync();
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var previous = _histogram.Snapshot();
        long previousRequests = 0;
        long previousHits = 0;
        var previousAt = _start;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = Stopwatch.GetTimestamp();
                var snapshot = _histogram.Snapshot();
                var (requests, hits) = (_counters.Requests, _counters.HitsAcknowledged);
                var seconds = Stopwatch.GetElapsedTime(previousAt, now).TotalSeconds;
                var p99 = snapshot.Minus(previous).Percentile(0.99) / 1000.0;
                var extra = _settings.ProgressExtra?.Invoke();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{_settings.Label} {Stopwatch.GetElapsedTime(_start, now).TotalSeconds,4:0}s] {(requests - previousRequests) / seconds,9:N0} req/s {(hits - previousHits) / seconds,9:N0} hits/s  errors {_counters.Failed:N0}  p99 {p99:0.00} ms{(extra is null ? "" : "  " + extra)}"));
                (previous, previousRequests, previousHits, previousAt) = (snapshot, requests, hits, now);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
