using System.Diagnostics;
using System.Net;
using Analytics.LocalStack;

namespace Analytics.Tests.Cli;

/// <summary><c>analytics run</c> (what ./run starts): its own Redis and ClickHouse, the service, and a clean stop.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public async Task RunStartsEverythingAndSigtermStopsItAllWithoutOrphans()
    {
        var data = Path.Combine(Path.GetTempPath(), "analytics-run-" + Guid.NewGuid().ToString("N")[..8]);
        var (redisPort, httpPort, tcpPort, webPort) = (FreePort.Next(), FreePort.Next(), FreePort.Next(), FreePort.Next());
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(Program).Assembly.Location);
        info.ArgumentList.Add("run");
        info.Environment["ANALYTICS_DATA"] = data;
        info.Environment["ANALYTICS_REDIS_PORT"] = redisPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["ANALYTICS_CLICKHOUSE_HTTP_PORT"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["ANALYTICS_CLICKHOUSE_TCP_PORT"] = tcpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{webPort}";
        info.Environment.Remove("ConnectionStrings__Redis");
        info.Environment.Remove("ConnectionStrings__ClickHouse");
        info.Environment.Remove("Analytics__AdminToken");
        using var run = Process.Start(info)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        run.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        run.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        run.BeginOutputReadLine();
        run.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{webPort}"), Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var ready = false;
            while (!ready && DateTime.UtcNow < deadline && !run.HasExited)
            {
                try
                {
                    using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
                    ready = response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains("\"clickHouse\":\"up\"", StringComparison.Ordinal);
                }
                catch (HttpRequestException)
                {
                }

                if (!ready)
                {
                    await Task.Delay(200);
                }
            }

            Assert.True(ready, string.Join('\n', output));
            var children = ChildPids(data);
            Assert.Equal(2, children.Count);
            // The printed admin token works, and is kept with the data.
            var token = (await File.ReadAllTextAsync(Path.Combine(data, "admin-token"))).Trim();
            Assert.Contains(output, line => line.Contains(token, StringComparison.Ordinal));
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/sites", UriKind.Relative))).StatusCode);

            Assert.Equal(0, Kill(run.Id, 15));
            await run.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            foreach (var pid in children)
            {
                Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(" Z ", StringComparison.Ordinal), $"process {pid} outlived the run");
            }
        }
        finally
        {
            if (!run.HasExited)
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

            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>The Redis and ClickHouse that the run started, from their pid files.</summary>
    private static List<int> ChildPids(string data) =>
        [.. new[] { Path.Combine(data, "redis", "redis.pid"), Path.Combine(data, "clickhouse", "clickhouse.pid") }
            .Where(File.Exists)
            .Select(f => int.Parse(File.ReadAllText(f).Trim(), System.Globalization.CultureInfo.InvariantCulture))];

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
