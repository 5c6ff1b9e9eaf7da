using System.Diagnostics;
using System.Net;
using Analytics.LocalStack;

namespace Analytics.Tests.Cli;

/// <summary><c>analytics run</c> (what ./run starts): its own Redis and ClickHouse, the service, and a clean stop.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public async Task RunStartsEverythingAgainAfterACrashAndSigtermStopsItAllWithoutOrphans()
    {
        var data = Path.Combine(Path.GetTempPath(), "analytics-run-" + Guid.NewGuid().ToString("N")[..8]);
        var (redisPort, httpPort, tcpPort, webPort) = (FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next());
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{webPort}"), Timeout = TimeSpan.FromSeconds(2) };
        var runs = new List<Process>();
        try
        {
            // A run killed outright leaves its Redis and ClickHouse behind (each in a session of its
            // own); the next run on the same data stops them and starts afresh on the same ports.
            runs.Add(StartRun(data, redisPort, httpPort, tcpPort, webPort, output));
            await WaitReadyAsync(http, runs[^1], output);
            var crashed = ChildPids(data);
            Assert.Equal(2, crashed.Count);
            runs[^1].Kill();
            await runs[^1].WaitForExitAsync();
            Assert.All(crashed, pid => Assert.True(IsAlive(pid), $"process {pid} should outlive a kill -9 of the run"));

            runs.Add(StartRun(data, redisPort, httpPort, tcpPort, webPort, output));
            await WaitReadyAsync(http, runs[^1], output);
            var children = ChildPids(data);
            Assert.Equal(2, children.Count);
            Assert.Empty(children.Intersect(crashed));
            Assert.All(crashed, pid => Assert.False(IsAlive(pid), $"leftover {pid} was not stopped"));

            // The printed admin token works, and is kept with the data.
            var token = (await File.ReadAllTextAsync(Path.Combine(data, "admin-token"))).Trim();
            Assert.Contains(output, line => line.Contains(token, StringComparison.Ordinal));
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/sites", UriKind.Relative))).StatusCode);

            // The CLI finds the run's Redis on its port, by the same variable or by the line the run printed.
            var ports = new Dictionary<string, string> { ["ANALYTICS_REDIS_PORT"] = redisPort.ToString(System.Globalization.CultureInfo.InvariantCulture), ["ConnectionStrings__Redis"] = "" };
            (await Infrastructure.Cli.RunAsync(ports, "sites", "add", "demo", "--domain", "example.com")).AssertSucceeded();
            Assert.Contains(output, line => line.Contains($"--redis '127.0.0.1:{redisPort}", StringComparison.Ordinal) && line.Contains("sites add demo", StringComparison.Ordinal));

            Assert.Equal(0, Kill(runs[^1].Id, 15));
            await runs[^1].WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(output, line => line.Contains("Stopping the local servers", StringComparison.Ordinal));
            Assert.All(children, pid => Assert.False(IsAlive(pid), $"process {pid} outlived the run"));

            // A token configured on the command line (or in appsettings.json) stands over the kept one.
            runs.Add(StartRun(data, redisPort, httpPort, tcpPort, webPort, output, "--Analytics:AdminToken=configured-admin-token-1"));
            await WaitReadyAsync(http, runs[^1], output);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri("/api/sites", UriKind.Relative))).StatusCode);
            http.DefaultRequestHeaders.Authorization = new("Bearer", "configured-admin-token-1");
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/sites", UriKind.Relative))).StatusCode);
            Assert.Equal(0, Kill(runs[^1].Id, 15));
            await runs[^1].WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            foreach (var run in runs.Where(r => !r.HasExited))
            {
                run.Kill(entireProcessTree: true);
            }

            foreach (var pid in ChildPids(data))
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                }
            }

            runs.ForEach(r => r.Dispose());
            Directory.Delete(data, recursive: true);
        }
    }

    private static Process StartRun(string data, int redisPort, int httpPort, int tcpPort, int webPort, System.Collections.Concurrent.ConcurrentQueue<string> output, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(Program).Assembly.Location);
        info.ArgumentList.Add("run");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ANALYTICS_DATA"] = data;
        info.Environment["ANALYTICS_REDIS_PORT"] = redisPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["ANALYTICS_CLICKHOUSE_HTTP_PORT"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["ANALYTICS_CLICKHOUSE_TCP_PORT"] = tcpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{webPort}";
        info.Environment.Remove("ConnectionStrings__Redis");
        info.Environment.Remove("ConnectionStrings__ClickHouse");
        info.Environment.Remove("Analytics__AdminToken");
        var run = Process.Start(info)!;
        run.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        run.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        run.BeginOutputReadLine();
        run.BeginErrorReadLine();
        return run;
    }

    private static async Task WaitReadyAsync(HttpClient http, Process run, System.Collections.Concurrent.ConcurrentQueue<string> output)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !run.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains("\"clickHouse\":\"up\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        Assert.Fail("The run did not become ready:\n" + string.Join('\n', output));
    }

    private static bool IsAlive(int pid) =>
        Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(" Z ", StringComparison.Ordinal);

    /// <summary>The Redis and ClickHouse that the run started, from their pid files.</summary>
    private static List<int> ChildPids(string data) =>
        [.. new[] { Path.Combine(data, "redis", "redis.pid"), Path.Combine(data, "clickhouse", "clickhouse.pid") }
            .Where(File.Exists)
            .Select(f => int.Parse(File.ReadAllText(f).Trim(), System.Globalization.CultureInfo.InvariantCulture))];

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
