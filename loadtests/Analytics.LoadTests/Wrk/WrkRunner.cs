using System.Diagnostics;
using System.Globalization;
using Analytics.LoadTests.Stack;

namespace Analytics.LoadTests.Wrk;

/// <summary>Runs <c>wrk -tT -cC -dD --latency -s loadtests/wrk/SCRIPT.lua URL -- ARGS</c> and parses what it prints.</summary>
internal static class WrkRunner
{
    public static string? Find() => LocalStack.LocalRedis.FindExecutable("wrk");

    public static async Task<(WrkResult Result, string Output)> RunAsync(Uri target, string script, IReadOnlyList<string> scriptArguments, int threads, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var wrk = Find() ?? throw new InvalidOperationException("wrk is not installed: apt-get install -y wrk");
        var info = new ProcessStartInfo(wrk)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
            $"-t{threads}", $"-c{connections}", string.Create(CultureInfo.InvariantCulture, $"-d{Math.Max(1, (int)Math.Round(duration.TotalSeconds))}s"),
            "--latency", "--timeout", "10s", "-s", Repository.WrkScript(script), target.ToString()])
        {
            info.ArgumentList.Add(argument);
        }

        if (scriptArguments.Count > 0)
        {
            info.ArgumentList.Add("--");
            foreach (var argument in scriptArguments)
            {
                info.ArgumentList.Add(argument);
            }
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start wrk.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        var text = await output + await error;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited with {process.ExitCode}:\n{text}");
        }

        return (WrkResult.Parse(text), text);
    }
}
