using System.Diagnostics;
using System.Text.Json;
using StackExchange.Redis;

namespace Analytics.LoadTests.Targets;

/// <summary>
/// The floor of any design that keeps the service's guarantee ("a hit answered 2xx is already in
/// Redis"): requests join a group commit, one batch at a time is written as a single
/// <c>INCRBY lt:floor {hits}</c>, and every request of the batch answers once Redis has
/// acknowledged it. No validation, no per-page counters, no visitors, no exactly-once record:
/// whatever a real counting design does comes on top of this, so <c>floor/bare</c> in
/// <c>compare</c> is an upper bound for the service's ratio on the machine it runs on.
///
/// To make the bound as high as this design gets, a batch is not sent the moment the previous
/// one is answered: the writer yields to the thread pool until <see cref="FloorSettings.Gather"/>
/// hits have joined or <see cref="FloorSettings.Linger"/> has passed, which trades a little
/// latency for fewer round trips (measured: 12 hits / 150 µs best with 32 connections on two
/// cores; see loadtests/RESULTS.md).
/// </summary>
internal static class FloorTarget
{
    public const string Key = "lt:floor";

    public static WebApplication Build(int port, string redisConnection, FloorSettings settings)
    {
        var builder = MinimalHost.CreateBuilder(port);
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redisConnection));
        var app = builder.Build();
        var commit = new GroupCommit(app.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase(), settings);
        app.MapGet("/healthz", () => Results.Ok());
        app.MapGet("/p.gif", async (HttpContext context) =>
        {
            await commit.AddAsync(1);
            return MinimalHost.GifResult(context);
        });
        app.MapPost("/api/event", async (HttpRequest request) =>
        {
            await request.Body.CopyToAsync(Stream.Null);
            await commit.AddAsync(1);
            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        app.MapPost("/api/events", async (HttpRequest request) =>
        {
            using var json = await JsonDocument.ParseAsync(request.Body);
            var events = json.RootElement.GetArrayLength();
            await commit.AddAsync(events);
            return Results.Json(new { accepted = events, rejected = Array.Empty<object>() }, statusCode: StatusCodes.Status202Accepted);
        });
        return app;
    }

    /// <summary>Requests wait for the batch they joined; one INCRBY on the wire at a time.</summary>
    private sealed class GroupCommit(IDatabase redis, FloorSettings settings)
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource _open = new();
        private long _pending;
        private bool _writing;

        public Task AddAsync(int hits)
        {
            lock (_gate)
            {
                _pending += hits;
                var joined = _open.Task;
                if (!_writing)
                {
                    _writing = true;
                    _ = Task.Run(WriteAsync);
                }

                return joined;
            }
        }

        private async Task WriteAsync()
        {
            while (true)
            {
                var started = Stopwatch.GetTimestamp();
                while (settings.Gather > 1 && Volatile.Read(ref _pending) < settings.Gather && Stopwatch.GetElapsedTime(started) < settings.Linger)
                {
                    await Task.Yield();
                }

                TaskCompletionSource batch;
                long hits;
                lock (_gate)
                {
                    if (_pending == 0)
                    {
                        _writing = false;
                        return;
                    }

                    (batch, hits, _open, _pending) = (_open, _pending, new TaskCompletionSource(), 0);
                }

                try
                {
                    await redis.StringIncrementAsync(Key, hits);
                    // Continuations run right here: one thread answers the whole batch.
                    batch.SetResult();
                }
                catch (Exception exception)
                {
                    batch.SetException(exception);
                }
            }
        }
    }
}

/// <summary>How long the floor's writer lets a batch fill: up to <see cref="Gather"/> hits or <see cref="Linger"/>, whichever comes first.</summary>
internal sealed record FloorSettings(int Gather, TimeSpan Linger)
{
    public static readonly FloorSettings Default = new(12, TimeSpan.FromMicroseconds(150));
}
