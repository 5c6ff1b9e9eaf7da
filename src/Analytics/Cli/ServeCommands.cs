using System.CommandLine;
using System.Globalization;
using Analytics.Infrastructure;
using Analytics.LocalStack;

namespace Analytics.Cli;

internal static class ServeCommands
{
    /// <summary><c>analytics serve</c>: the web service against the configured Redis and ClickHouse.</summary>
    public static Command Serve()
    {
        var command = new Command("serve", "Run the web service against the configured Redis and ClickHouse (ConnectionStrings:Redis, ConnectionStrings:ClickHouse). Other options (--urls, --Analytics:AdminToken=…) go to the host.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(async (parse, _) =>
        {
            var args = parse.UnmatchedTokens.ToList();
            if (parse.GetValue(AnalyticsCommand.RedisOption) is { } redis)
            {
                args.Add($"--ConnectionStrings:Redis={redis}");
            }

            if (parse.GetValue(ReportCommands.ClickHouseOption) is { } clickHouse)
            {
                args.Add($"--ConnectionStrings:ClickHouse={clickHouse}");
            }

            await ServerApp.Build([.. args]).RunAsync();
            return 0;
        });
        return command;
    }

    /// <summary>
    /// <c>analytics run</c> (what <c>./run</c> calls): a local Redis and ClickHouse under the data
    /// folder unless connection strings point elsewhere, then the web service; Ctrl-C stops all.
    /// </summary>
    public static Command Run()
    {
        var command = new Command("run", "Start a local Redis and ClickHouse under ANALYTICS_DATA (default .data/) unless --redis / --clickhouse (or ConnectionStrings__Redis / ConnectionStrings__ClickHouse) name servers to use, then the web service at ASPNETCORE_URLS (default " + ServerApp.DefaultUrl + "). Ctrl-C stops everything.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var data = Path.GetFullPath(Setting("ANALYTICS_DATA", ".data"));
            var args = parse.UnmatchedTokens.ToList();
            // --redis / --clickhouse name a server to use, as the connection strings do: none is started then.
            var redisGiven = parse.GetValue(AnalyticsCommand.RedisOption) ?? Setting("ConnectionStrings__Redis", "");
            var clickHouseGiven = parse.GetValue(ReportCommands.ClickHouseOption) ?? Setting("ConnectionStrings__ClickHouse", "");
            int redisPort, httpPort, tcpPort;
            try
            {
                (redisPort, httpPort, tcpPort) = (Port("ANALYTICS_REDIS_PORT", 6379), Port("ANALYTICS_CLICKHOUSE_HTTP_PORT", 8123), Port("ANALYTICS_CLICKHOUSE_TCP_PORT", 9000));
            }
            catch (FormatException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 1;
            }

            await using var redis = redisGiven.Length == 0 ? new LocalRedis(Path.Combine(data, "redis"), redisPort) : null;
            await using var clickHouse = clickHouseGiven.Length == 0 ? new LocalClickHouse(Path.Combine(data, "clickhouse"), httpPort, tcpPort) : null;
            // Given as options, they go to the host that way; from the environment, the host reads them there.
            if (parse.GetValue(AnalyticsCommand.RedisOption) is { } redisOption)
            {
                args.Add($"--ConnectionStrings:Redis={redisOption}");
            }

            if (parse.GetValue(ReportCommands.ClickHouseOption) is { } clickHouseOption)
            {
                args.Add($"--ConnectionStrings:ClickHouse={clickHouseOption}");
            }

            try
            {
                if (redis is not null)
                {
                    Console.WriteLine($"Starting Redis on 127.0.0.1:{redis.Port} (data in {redis.DataDirectory}) …");
                    await redis.StartAsync(cancellationToken);
                    args.Add($"--ConnectionStrings:Redis={redis.ConnectionString}");
                }

                if (clickHouse is not null)
                {
                    Console.WriteLine($"Starting ClickHouse on 127.0.0.1:{clickHouse.HttpPort} (HTTP) and {clickHouse.TcpPort} (native) (data in {clickHouse.DataDirectory}) …");
                    await clickHouse.StartAsync(cancellationToken);
                    args.Add($"--ConnectionStrings:ClickHouse={clickHouse.ConnectionString}");
                }
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 1;
            }

            // A token configured anywhere (appsettings.json, environment, --Analytics:AdminToken=…)
            // stands; only without one does a local run make one (kept in the data folder).
            string? madeToken = null;
            if (string.IsNullOrEmpty(ConfiguredAdminToken(args)))
            {
                madeToken = LocalAdminToken(data);
                args.Add($"--Analytics:AdminToken={madeToken}");
            }

            var app = ServerApp.Build([.. args]);
            app.Lifetime.ApplicationStarted.Register(() => Welcome.Print(app.Urls.FirstOrDefault() ?? ServerApp.DefaultUrl, madeToken, app.Configuration.GetConnectionString("Redis") ?? ""));
            await app.RunAsync();
            Console.WriteLine("Stopping the local servers …");
            return 0;
        });
        return command;
    }

    /// <summary>Hidden helper: serves clickhouse-local from the chdb library (started by <see cref="LocalClickHouse"/>).</summary>
    public static Command ClickHouseLocal()
    {
        var config = new Option<string>("--config") { Required = true, Description = "clickhouse config XML (listen_host, http_port, tcp_port)" };
        var path = new Option<string>("--path") { Required = true, Description = "data folder" };
        var library = new Option<string?>("--library") { Description = "path of libchdb.so" };
        var command = new Command("clickhouse-local", "Serve a local ClickHouse from the chdb library (used by 'run' and the tests).") { config, path, library };
        command.Hidden = true;
        command.SetAction(parse => ChdbHost.Serve(parse.GetValue(library) ?? ChdbHost.DefaultLibraryPath(), parse.GetValue(config)!, parse.GetValue(path)!));
        return command;
    }

    /// <summary>Analytics:AdminToken as the service will read it: appsettings.json, the environment, the command line.</summary>
    private static string? ConfiguredAdminToken(IEnumerable<string> args)
    {
        var environment = Setting("ASPNETCORE_ENVIRONMENT", Setting("DOTNET_ENVIRONMENT", "Production"));
        var contentRoot = Directory.GetCurrentDirectory();
        return new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(contentRoot, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(contentRoot, $"appsettings.{environment}.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine([.. args])
            .Build()["Analytics:AdminToken"];
    }

    private static string Setting(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

    /// <summary>A port from the environment (<paramref name="fallback"/> when unset); anything but 1–65535 is refused.</summary>
    private static int Port(string name, int fallback)
    {
        var text = Setting(name, "");
        if (text.Length == 0)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? port
            : throw new FormatException($"{name} must be a port number (1–65535), not '{text}'.");
    }

    /// <summary>Without a configured admin token, a local run makes one once and keeps it with the data.</summary>
    private static string LocalAdminToken(string data)
    {
        Directory.CreateDirectory(data);
        var file = Path.Combine(data, "admin-token");
        if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } existing)
        {
            return existing;
        }

        var token = Secrets.New("adm_");
        // Readable by its owner only from the moment it exists.
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(file, options))
        {
            writer.Write(token);
        }

        return token;
    }
}
