using System.CommandLine;
using System.Globalization;
using Analytics.LoadTests.Stack;

namespace Analytics.LoadTests.Commands;

/// <summary>
/// <c>stack</c>: the environment the other commands start — Redis, ClickHouse, the service and a few
/// sites — kept running until Ctrl-C, for loading it by hand (wrk with loadtests/wrk/*.lua, or
/// <c>run --target</c>).
/// </summary>
internal static class StackCommand
{
    public static Command Create()
    {
        var sites = CommonOptions.Sites();
        var stack = new StackOptionSet(targetable: false);
        var command = new Command("stack", """
            Start what the other commands start — a Redis, a ClickHouse and the service (Release) on free ports,
            with --sites sites — print how to reach them (URL, connection strings, admin token, wrk arguments),
            and keep them running until Ctrl-C.
            """)
        {
            sites,
        };
        stack.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var running = await LoadStack.StartAsync(stack.Read(parse), Console.Error, cancellationToken);
            var created = await AdminApi.CreateSitesAsync(running.BaseAddress, running.AdminToken, AdminApi.NewRunPrefix("stack"), parse.GetValue(sites),
                utcOnly: false, publicCounter: true, cancellationToken);
            var url = running.BaseAddress.ToString().TrimEnd('/');
            var wrkSites = string.Join(',', created.Select(s => $"{s.Id}={s.IngestKey}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                service      {url}   (pid {running.Service!.Pid}, log {running.Service.LogPath})
                redis        {running.RedisConnection}
                clickhouse   {running.ClickHouseConnection}
                admin token  {running.AdminToken}
                sites        {string.Join(", ", created.Select(s => $"{s.Id} ({s.TimeZone})"))}

                wrk -t1 -c32 -d15s --latency -s loadtests/wrk/pixel.lua {url} -- {wrkSites} 200 3
                Analytics.LoadTests run --target {url} --redis "{running.RedisConnection}" --clickhouse "{running.ClickHouseConnection}" --admin-token {running.AdminToken}

                Ctrl-C stops everything.
                """));
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }

            return 0;
        });
        return command;
    }
}
