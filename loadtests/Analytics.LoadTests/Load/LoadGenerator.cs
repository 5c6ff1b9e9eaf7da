using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Analytics.LoadTests.Verification;

namespace Analytics.LoadTests.Load;

/// <summary>How long and how hard to send: <see cref="Rate"/> requests a second in all (0: as fast as the connections go).</summary>
internal sealed record LoadSettings(TimeSpan Duration, int Connections, double Rate = 0)
{
    public string Label { get; init; } = "load";

    /// <summary>Print a progress line to standard error every second.</summary>
    public bool Progress { get; init; } = true;

    /// <summary>Extra text for the progress line (the service's memory, say).</summary>
    public Func<string>? ProgressExtra { get; init; }
}

/// <summary>What a load did: requests and their outcomes, hits acknowledged, latency, and the counts the stores must hold.</summary>
internal sealed record LoadResult(
    string Scenario,
    TimeSpan Elapsed,
    long Requests,
    long Succeeded,
    long Failed,
    long HitsSent,
    long HitsAcknowledged,
    IReadOnlyDictionary<string, long> Errors,
    LatencySummary Latency,
    ExpectedCounts Expected)
{
    public double RequestsPerSecond => Requests / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public double HitsPerSecond => HitsAcknowledged / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// The harness's own load generator: one HttpClient (SocketsHttpHandler with as many connections
/// as workers), N workers each sending one request at a time. At a fixed rate, requests are
/// paced from one shared schedule, and latency is measured from the scheduled moment, so a
/// stalled server is not hidden (no coordinated omission). When the time is up no new request
/// starts, and every request in flight is awaited before the result is made.
/// </summary>
internal static class LoadGenerator
{
    private const string BrowserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

    public static HttpClient CreateClient(Uri baseAddress, int connections) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultRequestHeaders = { { "User-Agent", BrowserAgent } },
        };

    public static async Task<LoadResult> RunAsync(HttpClient http, Scenario scenario, LoadSettings settings, CancellationToken cancellationToken)
    {
        var histogram = new LatencyHistogram();
        var counters = new LoadCounters();
        var errors = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var workers = Enumerable.Range(0, settings.Connections).Select(i => new LoadWorker(i, scenario.Catalog)).ToArray();
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(settings.Duration.TotalSeconds * Stopwatch.Frequency);
        var interval = settings.Rate > 0 ? Stopwatch.Frequency / settings.Rate : 0;
        long ticket = -1;
        long lastDone = start;

        async Task WorkAsync(LoadWorker worker)
        {
            await Task.Yield();
            while (!cancellationToken.IsCancellationRequested)
            {
                long scheduled;
                if (interval > 0)
                {
                    scheduled = start + (long)(Interlocked.Increment(ref ticket) * interval);
                    if (scheduled >= end)
                    {
                        break;
                    }

                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
                    if (wait > TimeSpan.FromMilliseconds(1))
                    {
                        try
                        {
                            await Task.Delay(wait, cancellationToken);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }
                }
                else
                {
                    scheduled = Stopwatch.GetTimestamp();
                    if (scheduled >= end)
                    {
                        break;
                    }
                }

                var sent = Stopwatch.GetTimestamp();
                // In flight requests are never cancelled: their answers decide what must be counted.
                var outcome = await scenario.SendAsync(http, worker);
                var done = Stopwatch.GetTimestamp();
                histogram.RecordTicks(done - (interval > 0 ? scheduled : sent));
                counters.Add(outcome);
                LatencyHistogram.InterlockedMax(ref lastDone, done);
                if (!outcome.Succeeded)
                {
                    errors.AddOrUpdate(outcome.Error!, 1, (_, n) => n + 1);
                    if (outcome.Status == 0)
                    {
                        // Nobody answers (a restart, say): do not spin.
                        await Task.Delay(10, CancellationToken.None);
                    }
                }
            }
        }

        await using (var progress = settings.Progress ? new LoadProgress(settings, counters, histogram, start) : null)
        {
            await Task.WhenAll(workers.Select(WorkAsync));
        }

        var expected = scenario.Catalog.NewExpected();
        foreach (var worker in workers)
        {
            worker.Ledger.CopyTo(expected, scenario.Catalog);
        }

        return new LoadResult(
            scenario.Name,
            Stopwatch.GetElapsedTime(start, Interlocked.Read(ref lastDone)),
            counters.Requests,
            counters.Succeeded,
            counters.Failed,
            counters.HitsSent,
            counters.HitsAcknowledged,
            new SortedDictionary<string, long>(errors, StringComparer.Ordinal),
            histogram.Summary(),
            expected);
    }
}

/// <summary>Running totals the workers add to and the progress line reads.</summary>
internal sealed class LoadCounters
{
    private long _requests;
    private long _succeeded;
    private long _failed;
    private long _hitsSent;
    private long _hitsAcknowledged;

    public long Requests => Interlocked.Read(ref _requests);

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public long Failed => Interlocked.Read(ref _failed);

    public long HitsSent => Interlocked.Read(ref _hitsSent);

    public long HitsAcknowledged => Interlocked.Read(ref _hitsAcknowledged);

    public void Add(in Outcome outcome)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref outcome.Succeeded ? ref _succeeded : ref _failed);
        Interlocked.Add(ref _hitsSent, outcome.Sent);
        Interlocked.Add(ref _hitsAcknowledged, outcome.Acknowledged);
    }
}
