using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

// One server of each for the whole run, started by the first test that needs it.
[assembly: AssemblyFixture(typeof(PostgresServer))]
[assembly: AssemblyFixture(typeof(RedisServer))]
[assembly: AssemblyFixture(typeof(NatsServer))]
[assembly: AssemblyFixture(typeof(RabbitMqServer))]
