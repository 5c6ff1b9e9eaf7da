using Analytics.Reports;
using Analytics.Telemetry;
using Microsoft.Extensions.Options;

namespace Analytics.Rollup;

/// <summary>Runs a rollup every interval; after a failure waits longer each time (up to a minute) and logs.</summary>
internal sealed partial class RollupWorker : BackgroundService
{
    private readonly RollupRunner _rollup;
    private readonly DailyReportFiles _dailyFiles;
    private readonly IOptions<RollupOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RollupWorker> _logger;
    private readonly DateTimeOffset _started;
    private int _failures;

    public RollupWorker(RollupRunner rollup, DailyReportFiles dailyFiles, IOptions<RollupOptions> options, TimeProvider time, AnalyticsMetrics metrics, ILogger<RollupWorker> logger)
    {
        _rollup = rollup;
        _dailyFiles = dailyFiles;
        _options = options;
        _time = time;
        _logger = logger;
        _started = time.GetUtcNow();
        metrics.ObserveRollup(() => (time.GetUtcNow() - (LastSuccess ?? _started)).TotalSeconds, () => rollup.PendingPairs);
    }

    /// <summary>When the last rollup finished without error (UTC).</summary>
    public DateTimeOffset? LastSuccess { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = _options.Value.Interval;
        if (!_options.Value.Enabled)
        {
            return;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Delay(interval), _time, stoppingToken);
                try
                {
                    var rolledUp = await _rollup.RunAsync(stoppingToken) is not null;
                    _failures = 0;
                    if (rolledUp)
                    {
                        LastSuccess = _time.GetUtcNow();
                        await WriteDailyFilesAsync(stoppingToken);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    _failures++;
                    // One line for an expected condition (ClickHouse or Redis away); the stack at Debug.
                    LogFailed(_failures, e.Message, Delay(interval).TotalSeconds);
                    LogFailure(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The daily report files are a separate matter: failing to write them is not a failed rollup.</summary>
    private async Task WriteDailyFilesAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _dailyFiles.WriteDueAsync(stoppingToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogDailyFilesFailed(e.Message);
        }
    }

    private TimeSpan Delay(TimeSpan interval) =>
        _failures == 0 ? interval : TimeSpan.FromTicks(Math.Min(interval.Ticks << Math.Min(_failures, 10), _options.Value.MaxRetryDelay.Ticks));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Daily report files could not be written ({Reason}); check Reports:DailyDirectory. Retried after the next rollup.")]
    private partial void LogDailyFilesFailed(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Rollup failed ({Failures} in a row): {Reason}. Nothing is lost; retrying in {Seconds:0} s.")]
    private partial void LogFailed(int failures, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The rollup's failure in full.")]
    private partial void LogFailure(Exception exception);
}
