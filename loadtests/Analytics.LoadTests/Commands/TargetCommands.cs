using System.CommandLine;
using Analytics.LoadTests.Targets;

namespace Analytics.LoadTests.Commands;

/// <summary>Hidden commands that serve a target: the comparison's bare and per-request-HINCRBY endpoints, and the lossy self-test target.</summary>
internal static class TargetCommands
{
    public static Command Bare()
    {
        var port = Port();
        var command = new Command("bare-target", "Serve the bare Kestrel endpoints (the ceiling of 'compare').") { port };
        command.Hidden = true;
        command.SetAction((parse, cancellationToken) => MinimalHost.RunAsync(BareTarget.Build(parse.GetValue(port)), cancellationToken));
        return command;
    }

    public static Command Hincrby()
    {
        var port = Port();
        var redis = Redis();
        var command = new Command("hincrby-target", "Serve endpoints that await one Redis HINCRBY per request ('compare').") { port, redis };
        command.Hidden = true;
        command.SetAction((parse, cancellationToken) => MinimalHost.RunAsync(HincrbyTarget.Build(parse.GetValue(port), parse.GetValue(redis)!), cancellationToken));
        return command;
    }

    public static Command Floor()
    {
        var port = Port();
        var redis = Redis();
        var gather = new Option<int>("--gather") { Description = "Hits a batch waits for before it is sent (1: send at once)", DefaultValueFactory = _ => FloorSettings.Default.Gather };
        var linger = new Option<TimeSpan>("--linger")
        {
            Description = "Longest a batch waits for them (e.g. 150us)",
            DefaultValueFactory = _ => FloorSettings.Default.Linger,
            CustomParser = CommonOptions.ParseDuration,
        };
        var command = new Command("floor-target", "Serve endpoints that answer after one group-committed Redis INCRBY per batch, the floor of 'compare'.") { port, redis, gather, linger };
        command.Hidden = true;
        command.SetAction((parse, cancellationToken) => MinimalHost.RunAsync(
            FloorTarget.Build(parse.GetValue(port), parse.GetValue(redis)!, new FloorSettings(parse.GetValue(gather), parse.GetValue(linger))), cancellationToken));
        return command;
    }

    public static Command Lossy()
    {
        var port = Port();
        var redis = Redis();
        var dropEvery = new Option<int>("--drop-every") { Description = "Acknowledge and not count one hit in every N (0: count all)", DefaultValueFactory = _ => 10 };
        var command = new Command("lossy-target", """
            A deliberately lossy service for the harness's self-test: answers /p.gif and /api/event like the
            service and counts into the same Redis keys, but drops one hit in every N. Sites are created with
            POST /api/sites (any bearer token). 'run --target http://127.0.0.1:PORT --redis CONN --admin-token x'
            against it must FAIL.
            """) { port, redis, dropEvery };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var target = await LossyTarget.StartAsync(parse.GetValue(port), parse.GetValue(redis)!, parse.GetValue(dropEvery), cancellationToken);
            Console.WriteLine($"lossy-target on {target.BaseAddress}, dropping one hit in {target.DropEvery}");
            await target.RunAsync(cancellationToken);
            Console.WriteLine($"{target.Hits:N0} hits acknowledged, {target.Dropped:N0} dropped");
            return 0;
        });
        return command;
    }

    private static Option<int> Port() => new("--port") { Description = "Loopback port to listen on", Required = true };

    private static Option<string> Redis() => new("--redis") { Description = "Redis connection string", Required = true };
}
