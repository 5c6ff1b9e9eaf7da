using System.Globalization;

namespace Analytics.LoadTests.Stack;

/// <summary>Resident memory of a process from /proc/PID/status (VmRSS).</summary>
internal static class ProcessMemory
{
    public static long? ResidentBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kilobytes = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>CPU time (user + system) a process has used so far; zero when it is gone.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }

    public static string Format(long? bytes) => bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b / (1024.0 * 1024):0} MB") : "n/a";
}

/// <summary>The peak and last resident memory of a process, sampled while something runs.</summary>
internal sealed class MemorySampler : IAsyncDisposable
{
    private readonly Func<long?> _read;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public MemorySampler(Func<long?> read, TimeSpan every)
    {
        _read = read;
        _loop = LoopAsync(every);
    }

    public long? Peak { get; private set; }

    public long? Last { get; private set; }

    private void Sample()
    {
        if (_read() is { } now)
        {
            Last = now;
            Peak = Math.Max(Peak ?? 0, now);
        }
    }

    private async Task LoopAsync(TimeSpan every)
    {
        using var timer = new PeriodicTimer(every);
        Sample();
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                Sample();
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
        Sample();
        _stop.Dispose();
    }
}
