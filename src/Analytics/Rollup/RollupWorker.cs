using Analytics.Reports;
using Microsoft.Extensions.Options;

namespace Analytics.Rollup;

/// <summary>Runs a rollup every interval; after a failure waits longer each time (up to a minute) and logs.</summary>
internal sealed partial class RollupWorker(RollupRunner rollup, DailyReportFiles dailyFiles, IOptions<RollupOptions> options, TimeProvider time, ILogger<RollupWorker> logger) : BackgroundService
{
    private int _failures;

    /// <summary>When the last rollup finished without error (UTC).</summary>
    public DateTimeOffset? LastSuccess { get; private set; }

    public int ConsecutiveFailures => _failures;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.Interval;
        if (!options.Value.Enabled)
        {
            return;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Delay(interval), time, stoppingToken);
                try
                {
                    if (await rollup.RunAsync(stoppingToken) is not null)
                    {
                        LastSuccess = time.GetUtcNow();
                        await dailyFiles.WriteDueAsync(stoppingToken);
                    }

                    _failures = 0;
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    _failures++;
                    LogFailed(e, _failures, Delay(interval).TotalSeconds);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private TimeSpan Delay(TimeSpan interval) =>
        _failures == 0 ? interval : TimeSpan.FromTicks(Math.Min(interval.Ticks << Math.Min(_failures, 10), options.Value.MaxRetryDelay.Ticks));

    [LoggerMessage(Level = LogLevel.Error, Message = "Rollup failed ({Failures} in a row); nothing is lost, retrying in {Seconds:0} s.")]
    private partial void LogFailed(Exception exception, int failures, double seconds);
}
